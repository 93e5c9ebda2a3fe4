// The hooks views use: the store's state (re-rendering only when the part a
// view selects changes) and the hash route.
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import type { ConsoleState, Store } from "./store.js";

export const StoreContext = createContext<Store | null>(null);

export function useConsoleStore(): Store {
  const store = useContext(StoreContext);
  if (store === null) throw new Error("useConsoleStore outside <StoreContext.Provider>");
  return store;
}

export function useStore<T>(select: (state: ConsoleState) => T): T {
  const store = useConsoleStore();
  const [value, setValue] = useState(() => select(store.state));
  const selectRef = useRef(select);
  selectRef.current = select;
  useEffect(() => {
    const update = () => setValue(() => selectRef.current(store.state));
    update();
    return store.subscribe(update);
  }, [store]);
  return value;
}

// "#/volumes?lss=10" → "volumes".
export function currentRoute(): string {
  return location.hash.replace(/^#\/?/, "").split("?")[0] || "images";
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

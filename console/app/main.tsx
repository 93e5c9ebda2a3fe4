/** @jsxImportSource preact */
// The console's entry: one API client, one store, the app.
import { render } from "preact";
import { Api } from "./api.js";
import { App } from "./app.js";
import { StoreContext } from "./hooks.js";
import { Store } from "./store.js";

const store = new Store(new Api());
render(<StoreContext.Provider value={store}><App /></StoreContext.Provider>, document.getElementById("app")!);
store.start();

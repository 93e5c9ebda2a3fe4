// q ends the view; Ctrl-C ends it and interrupts the statement that opened it.
import { useInput } from "ink";

export interface WatchKeys {
  // False where stdin is not a terminal: ink cannot read keys from it.
  active: boolean;
  onQuit: () => void;
  onInterrupt: () => void;
}

export function useWatchKeys({ active, onQuit, onInterrupt }: WatchKeys): void {
  useInput((input, key) => {
    if (key.ctrl && input === "c") onInterrupt();
    else if (!key.ctrl && (input === "q" || input === "Q")) onQuit();
  }, { isActive: active });
}

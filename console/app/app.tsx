/** @jsxImportSource preact */
// The console's frame: the connection's state, the views' navigation (one
// hash route each) and the current view; the login page until a token is held.
import type { FunctionComponent } from "preact";
import { useConsoleStore, useRoute, useStore } from "./hooks.js";
import { EventsView } from "./views/events.js";
import { FlashCopyView } from "./views/flashcopy.js";
import { ImagesView } from "./views/images.js";
import { LoginView } from "./views/login.js";
import { MirroringView } from "./views/mirroring.js";
import { PathsView } from "./views/paths.js";
import { TasksView } from "./views/tasks.js";
import { ThroughputView } from "./views/throughput.js";
import { VolumesView } from "./views/volumes.js";

export const ROUTES: ReadonlyArray<{ route: string; label: string; view: FunctionComponent }> = [
  { route: "images", label: "Storage images", view: ImagesView },
  { route: "volumes", label: "Volumes", view: VolumesView },
  { route: "flashcopy", label: "FlashCopy", view: FlashCopyView },
  { route: "mirroring", label: "Mirroring", view: MirroringView },
  { route: "paths", label: "Paths and ports", view: PathsView },
  { route: "events", label: "Event log", view: EventsView },
  { route: "throughput", label: "Throughput", view: ThroughputView },
  { route: "tasks", label: "Tasks", view: TasksView },
];

export function App() {
  const signedIn = useStore((state) => state.signedIn);
  return signedIn ? <Frame /> : <LoginView />;
}

function Frame() {
  const store = useConsoleStore();
  const route = useRoute();
  const user = useStore((state) => state.user);
  const connection = useStore((state) => state.connection);
  const current = ROUTES.find((candidate) => candidate.route === route) ?? ROUTES[0];
  const View = current.view;
  return (
    <div class="frame">
      <a class="skip" href="#main" onClick={(event) => { event.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
      <header>
        <h1>tzero Copy Services</h1>
        <p class={`connection ${connection.state}`} role="status" aria-live="polite" data-state={connection.state} data-server={store.api.server}>
          {connection.state === "open" ? "Live" : connection.state === "lost" ? "Connection lost" : "Connecting"}
          <span class="muted"> {connection.state !== "open" ? connection.detail : store.api.server === location.origin ? "" : `on ${store.api.server} (the site's other server)`}</span>
        </p>
        <p class="user">{user} <button type="button" onClick={() => void store.api.logout()}>Log out</button></p>
      </header>
      <nav aria-label="Views">
        <ul>{ROUTES.map((candidate) => (
          <li key={candidate.route}><a href={`#/${candidate.route}`} aria-current={candidate === current ? "page" : undefined}>{candidate.label}</a></li>
        ))}</ul>
      </nav>
      <main id="main" tabIndex={-1}><View /></main>
    </div>
  );
}

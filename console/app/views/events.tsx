/** @jsxImportSource preact */
// The site's event log, newest first: what changed, on which image, who did
// it and from where (shell, script, REST, console, the server itself).
import { useMemo, useState } from "preact/hooks";
import type { ConsoleEvent } from "../api.js";
import { Table, type Column } from "../components/table.js";
import { clock } from "../format.js";
import { useStore } from "../hooks.js";

const COLUMNS: Array<Column<ConsoleEvent>> = [
  { key: "seq", label: "#", className: "number", cell: (event) => String(event.seq) },
  { key: "time", label: "Time", cell: (event) => clock(event.time) },
  { key: "kind", label: "Kind", cell: (event) => event.kind },
  { key: "image", label: "Storage image", cell: (event) => event.image ?? "-" },
  { key: "what", label: "What", cell: (event) => event.text },
  { key: "user", label: "User", cell: (event) => event.user ?? "-" },
  { key: "source", label: "From", cell: (event) => event.source },
];

export function EventsView() {
  const events = useStore((state) => state.events);
  const failure = useStore((state) => state.errors.events);
  const [filter, setFilter] = useState("");
  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const newestFirst = [...events].reverse();
    if (needle === "") return newestFirst;
    return newestFirst.filter((event) => [event.kind, event.text, event.user ?? "", event.source, event.image ?? "", ...event.ids].some((text) => text.toLowerCase().includes(needle)));
  }, [events, filter]);
  return (
    <div>
      <h2>Event log</h2>
      <form class="filters" aria-label="Filter events" onSubmit={(event) => event.preventDefault()}>
        <label>Filter <input name="filter" value={filter} onInput={(event) => setFilter((event.currentTarget as HTMLInputElement).value)} placeholder="text, user, source, ID" /></label>
        <span class="muted" role="status">{shown.length} of {events.length} events</span>
      </form>
      {failure !== undefined && <pre class="errors" role="alert">{failure}</pre>}
      <Table label="Events" columns={COLUMNS} rows={shown} rowKey={(event) => String(event.seq)} empty="No events yet." heightPx={560} />
    </div>
  );
}

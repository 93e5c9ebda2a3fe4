/** @jsxImportSource preact */
// Tasks, as ESS Copy Services' Tasks panel had them: a sequence of DS CLI
// actions or a scenario script saved under a name in the server's state, run
// later with its output shown live and its exit status kept in a history.
import { useState } from "preact/hooks";
import type { TaskRecord } from "../api.js";
import { Confirm } from "../components/actions.js";
import { SectionState } from "../components/section-state.js";
import { Table } from "../components/table.js";
import { clock } from "../format.js";
import { useConsoleStore, useStore } from "../hooks.js";

export function TasksView() {
  const store = useConsoleStore();
  const tasks = useStore((state) => state.tasks);
  const runs = useStore((state) => state.runs);
  const [draft, setDraft] = useState<{ name: string; kind: TaskRecord["kind"]; body: string }>({ name: "", kind: "actions", body: "" });
  const [message, setMessage] = useState<{ failed: boolean; text: string } | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const [runId, setRunId] = useState<string | null>(null);
  const run = runs.find((candidate) => candidate.runId === runId) ?? null;
  const act = async (what: () => Promise<string>) => {
    try {
      setMessage({ failed: false, text: await what() });
    } catch (error) {
      setMessage({ failed: true, text: (error as Error).message });
    }
  };
  // The server checks the name and the body, and its refusal is shown as it says it.
  const save = (event: Event) => {
    event.preventDefault();
    void act(async () => {
      await store.api.saveTask(draft.name, draft.kind, draft.body);
      store.refresh("tasks");
      return `Task ${draft.name} saved.`;
    });
  };
  const start = (name: string) => act(async () => {
    const id = await store.api.runTask(name);
    store.startedRun(id, name);
    setRunId(id);
    return `Task ${name} started (run ${id}).`;
  });
  const history = tasks.flatMap((task) => task.history.map((entry, index) => ({ task: task.name, index, ...entry }))).sort((a, b) => b.started.localeCompare(a.started));
  return (
    <div>
      <h2>Tasks</h2>
      <SectionState sections={["tasks"]} />
      <Table label="Tasks" rows={tasks} rowKey={(task) => task.name} heightPx={260} empty="No tasks saved."
        onSelect={(task) => setDraft({ name: task.name, kind: task.kind, body: task.body })} columns={[
          { key: "name", label: "Name", cell: (task) => task.name },
          { key: "kind", label: "Kind", cell: (task) => task.kind },
          { key: "lines", label: "Lines", className: "number", cell: (task) => String(task.body.split("\n").filter((line) => line.trim() !== "").length) },
          { key: "last", label: "Last run", cell: (task) => lastRun(task) },
          { key: "run", label: "Run", cell: (task) => <button type="button" aria-label={`Run ${task.name}`} onClick={(event) => { event.stopPropagation(); void start(task.name); }}>Run</button> },
          { key: "remove", label: "Remove", cell: (task) => <button type="button" class="danger" aria-label={`Remove ${task.name}`} onClick={(event) => { event.stopPropagation(); setRemoving(task.name); }}>Remove</button> },
        ]} />
      <form class="action-form" aria-label="Save task" onSubmit={save}>
        <fieldset>
          <legend>Save a task</legend>
          <div class="field"><label for="task-name">Name</label>
            <input id="task-name" value={draft.name} required onInput={(event) => setDraft({ ...draft, name: (event.currentTarget as HTMLInputElement).value })} /></div>
          <div class="field"><label for="task-kind">Kind</label>
            <select id="task-kind" value={draft.kind} onChange={(event) => setDraft({ ...draft, kind: (event.currentTarget as HTMLSelectElement).value as TaskRecord["kind"] })}>
              <option value="actions">actions (DS CLI lines, one after another)</option><option value="script">script (a scenario)</option>
            </select></div>
          <div class="field field-textarea"><label for="task-body">Lines</label>
            <textarea id="task-body" rows={6} value={draft.body} spellcheck={false} onInput={(event) => setDraft({ ...draft, body: (event.currentTarget as HTMLTextAreaElement).value })} /></div>
          <div class="form-buttons"><button type="submit" class="primary">Save task</button></div>
        </fieldset>
      </form>
      {message !== null && <p class={message.failed ? "errors" : "muted"} role="status">{message.text}</p>}
      {run !== null && (
        <section class="task-run" aria-label="Task output">
          <h3>Output of {run.name} <span class="muted">{run.exitCode === null ? "running…" : `exit code ${run.exitCode}`}</span></h3>
          <pre class="output" data-exit-code={run.exitCode ?? ""}>{run.lines.join("\n")}</pre>
        </section>
      )}
      <h3>History</h3>
      <Table label="Task history" rows={history} rowKey={(entry) => `${entry.task} ${entry.index}`} heightPx={240} empty="No task has run yet." columns={[
        { key: "task", label: "Task", cell: (entry) => entry.task },
        { key: "started", label: "Started", cell: (entry) => clock(entry.started) },
        { key: "finished", label: "Finished", cell: (entry) => (entry.finished === null ? "running" : clock(entry.finished)) },
        { key: "exit", label: "Exit code", className: "number", cell: (entry) => (entry.exitCode === null ? "-" : String(entry.exitCode)) },
        { key: "user", label: "User", cell: (entry) => entry.user },
      ]} />
      {removing !== null && <Confirm question={`Remove task ${removing}?`} onAnswer={(yes) => {
        const name = removing;
        setRemoving(null);
        if (yes) void act(async () => {
          await store.api.removeTask(name);
          store.refresh("tasks");
          return `Task ${name} removed.`;
        });
      }} />}
    </div>
  );
}

function lastRun(task: TaskRecord): string {
  const last = task.history[task.history.length - 1];
  if (last === undefined) return "never";
  return `${clock(last.started)} ${last.exitCode === null ? "running" : `exit ${last.exitCode}`} (${last.user})`;
}

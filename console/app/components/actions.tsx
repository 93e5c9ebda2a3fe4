/** @jsxImportSource preact */
// A view's actions: each a labelled form that builds one DS CLI line, shows
// it, and runs it through /cs/console/run, then shows what DS CLI said (the
// CMUC message, or the CMUN error naming the rule and the pair it refused).
// A destructive action asks first, as rmflash does without -quiet, and then
// runs with -quiet (where the command takes it) so the server does not ask again.
import type { ComponentChild } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { RunResult } from "../api.js";
import { useConsoleStore } from "../hooks.js";
import type { Section } from "../store.js";

export interface Field {
  name: string;
  label: string;
  kind?: "text" | "checkbox" | "select" | "textarea";
  options?: readonly string[]; // for a select
  placeholder?: string;
  required?: boolean;
  initial?: string;
  hint?: string;
}

export type Values = Record<string, string>;

export interface Action {
  id: string; // used in element IDs and test names
  label: string;
  fields: readonly Field[];
  command: (values: Values) => string; // the DS CLI line (without -quiet for destructive ones)
  destructive?: boolean;
  quiet?: boolean; // the command takes -quiet: added once the console has asked
  refreshes?: Section[];
}

export const option = (values: Values, name: string, flag = name): string => (values[name] === "true" ? ` -${flag}` : "");
export const valued = (values: Values, name: string, flag = name): string => (values[name] ? ` -${flag} ${values[name]}` : "");

// DS CLI lines are split on blanks: a value with one is quoted, and a quote in it refused before it is sent.
export function word(value: string): string {
  if (/["\n]/.test(value)) throw new Error(`${JSON.stringify(value)}: a value cannot hold a double quote or a line break`);
  return /\s|^$/.test(value) ? `"${value}"` : value;
}

function quiet(command: string): string {
  const [name, ...rest] = command.split(" ");
  return [name, "-quiet", ...rest].join(" ");
}

interface Outcome {
  command: string;
  result: RunResult | null;
  failure: string | null;
}

export function Actions(props: { actions: readonly Action[]; context?: Values }) {
  // Each submission replaces the last outcome: none is shown while it runs.
  const [open, setOpen] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const action = props.actions.find((candidate) => candidate.id === open) ?? null;
  return (
    <section class="actions" aria-label="Actions">
      <div class="action-buttons" role="toolbar" aria-label="Actions">
        {props.actions.map((candidate) => (
          <button type="button" key={candidate.id} id={`action-${candidate.id}`} aria-expanded={open === candidate.id}
            class={candidate.destructive ? "danger" : ""} onClick={() => setOpen(open === candidate.id ? null : candidate.id)}>
            {candidate.label}
          </button>
        ))}
      </div>
      {action !== null && <ActionForm key={action.id} action={action} context={props.context ?? {}} onOutcome={setOutcome} onCancel={() => setOpen(null)} />}
      <OutcomeView outcome={outcome} />
    </section>
  );
}

function ActionForm(props: { action: Action; context: Values; onOutcome: (outcome: Outcome | null) => void; onCancel: () => void }) {
  const store = useConsoleStore();
  const { action } = props;
  const initial = Object.fromEntries(action.fields.map((field) => [field.name, props.context[field.name] ?? field.initial ?? (field.kind === "select" ? field.options?.[0] ?? "" : "")]));
  const [values, setValues] = useState<Values>(initial);
  const [asking, setAsking] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const commandLine = (): string | Error => {
    try {
      return action.command(values);
    } catch (error) {
      return error as Error;
    }
  };
  const execute = async (command: string) => {
    setBusy(true);
    props.onOutcome(null);
    try {
      props.onOutcome({ command, result: await store.run(command, action.refreshes), failure: null });
    } catch (error) {
      props.onOutcome({ command, result: null, failure: (error as Error).message });
    } finally {
      setBusy(false);
    }
  };
  const submit = (event: Event) => {
    event.preventDefault();
    const command = commandLine();
    if (command instanceof Error) return props.onOutcome({ command: action.label, result: null, failure: command.message });
    if (action.destructive) setAsking(command);
    else void execute(command);
  };
  const preview = commandLine();
  return (
    <form class="action-form" aria-label={action.label} id={`form-${action.id}`} onSubmit={submit}>
      <fieldset disabled={busy}>
        <legend>{action.label}</legend>
        {action.fields.map((field) => <FieldInput key={field.name} formId={action.id} field={field} value={values[field.name] ?? ""}
          onChange={(value) => setValues({ ...values, [field.name]: value })} />)}
        <p class="preview"><span class="muted">Command: </span><code>{preview instanceof Error ? preview.message : preview}</code></p>
        <div class="form-buttons">
          <button type="submit" class={action.destructive ? "danger" : "primary"}>{busy ? "Running…" : action.label}</button>
          <button type="button" onClick={props.onCancel}>Close</button>
        </div>
      </fieldset>
      {asking !== null && <Confirm question={`Run ${asking}? This cannot be undone.`} onAnswer={(yes) => {
        const command = asking;
        setAsking(null);
        if (yes) void execute(action.quiet ? quiet(command) : command);
      }} />}
    </form>
  );
}

function FieldInput(props: { formId: string; field: Field; value: string; onChange: (value: string) => void }) {
  const { field } = props;
  const id = `${props.formId}-${field.name}`;
  const input = (event: Event) => props.onChange((event.currentTarget as HTMLInputElement).value);
  let control: ComponentChild;
  if (field.kind === "checkbox") {
    control = <input id={id} name={field.name} type="checkbox" checked={props.value === "true"} onChange={(event) => props.onChange(String((event.currentTarget as HTMLInputElement).checked))} />;
  } else if (field.kind === "select") {
    control = <select id={id} name={field.name} value={props.value} onChange={input}>{(field.options ?? []).map((choice) => <option key={choice} value={choice}>{choice}</option>)}</select>;
  } else if (field.kind === "textarea") {
    control = <textarea id={id} name={field.name} value={props.value} rows={6} placeholder={field.placeholder} required={field.required} onInput={input} />;
  } else {
    control = <input id={id} name={field.name} type="text" value={props.value} placeholder={field.placeholder} required={field.required} onInput={input} autoComplete="off" spellcheck={false} />;
  }
  return (
    <div class={`field field-${field.kind ?? "text"}`}>
      <label for={id}>{field.label}</label>
      {control}
      {field.hint !== undefined && <small>{field.hint}</small>}
    </div>
  );
}

export function OutcomeView(props: { outcome: Outcome | null }) {
  const { outcome } = props;
  if (outcome === null) return <div class="outcome" role="status" aria-live="polite" />;
  const failed = outcome.failure !== null || (outcome.result?.exitCode ?? 0) !== 0;
  return (
    <div class={`outcome ${failed ? "failed" : "succeeded"}`} role="status" aria-live="polite" data-command={outcome.command} data-exit-code={outcome.result?.exitCode ?? ""}>
      <p><code>{outcome.command}</code>{outcome.result !== null && <span class="muted"> exit code {outcome.result.exitCode}</span>}</p>
      {outcome.failure !== null && <pre class="errors">{outcome.failure}</pre>}
      {outcome.result !== null && outcome.result.output.length > 0 && <pre class="output">{outcome.result.output.join("\n")}</pre>}
      {outcome.result !== null && outcome.result.errors.length > 0 && <pre class="errors">{outcome.result.errors.join("\n")}</pre>}
    </div>
  );
}

// A modal question: focus starts on the safe answer, Escape says no.
export function Confirm(props: { question: string; onAnswer: (yes: boolean) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element !== null && !element.open) element.showModal();
  }, []);
  return (
    <dialog ref={dialog} class="confirm" aria-label="Confirm" onCancel={(event) => { event.preventDefault(); props.onAnswer(false); }}>
      <p>{props.question}</p>
      <div class="form-buttons">
        <button type="button" autofocus onClick={() => props.onAnswer(false)}>Cancel</button>
        <button type="button" class="danger" onClick={() => props.onAnswer(true)}>Confirm</button>
      </div>
    </dialog>
  );
}

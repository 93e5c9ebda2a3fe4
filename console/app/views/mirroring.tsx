/** @jsxImportSource preact */
// PPRC pairs (Metro Mirror and Global Copy): state, reason, out-of-sync
// tracks, first-pass status and the rate the stream reports; the actions
// that make, suspend, resume, fail over, fail back, freeze and end them.
import { useState } from "preact/hooks";
import { Actions, option, word, type Action, type Values } from "../components/actions.js";
import { SectionState } from "../components/section-state.js";
import { Table, type Column } from "../components/table.js";
import { rate } from "../format.js";
import { useStore } from "../hooks.js";
import { progressKey, type Pair } from "../store.js";
import { PathsTable } from "./paths.js";

const COLUMNS: Array<Column<Pair & { bytesPerSecond: number }>> = [
  { key: "id", label: "ID", cell: (pair) => pair.id },
  { key: "image", label: "Storage image", cell: (pair) => pair.image },
  { key: "type", label: "Type", cell: (pair) => pair.type },
  { key: "state", label: "State", cell: (pair) => pair.state },
  { key: "reason", label: "Reason", cell: (pair) => pair.reason },
  { key: "oos", label: "Out-of-sync tracks", className: "number", cell: (pair) => String(pair.outOfSyncTracks) },
  { key: "firstpass", label: "First pass", cell: (pair) => pair.firstPass },
  { key: "rate", label: "MB/s", className: "number", cell: (pair) => rate(pair.bytesPerSecond) },
];

const ids = (values: Values, name = "pairs") => values[name].trim().split(/\s+/).map(word).join(" ");

function actions(images: string[]): Action[] {
  const dev = { name: "dev", label: "Storage image", kind: "select" as const, options: images };
  const remotedev = { name: "remotedev", label: "Remote storage image", kind: "select" as const, options: [...images].reverse() };
  const pairs = { name: "pairs", label: "Primary:secondary pairs", required: true, placeholder: "1000:2000" };
  const type = { name: "type", label: "Type", kind: "select" as const, options: ["mmir", "gcp"] };
  const devs = (values: Values) => `-dev ${values.dev} -remotedev ${values.remotedev}`;
  const lssPairs = { name: "lsspairs", label: "Source:target LSS pairs", required: true, placeholder: "10:20" };
  const simple = (id: string, label: string, command: string, extra = "") => ({
    id, label, refreshes: ["pprc" as const], fields: [dev, remotedev, pairs],
    command: (values: Values) => `${command} ${devs(values)}${extra} ${ids(values)}`,
  });
  return [
    {
      id: "mkpprc", label: "Make pairs", refreshes: ["pprc"],
      fields: [dev, remotedev, pairs, type, { name: "mode", label: "Initial copy", kind: "select", options: ["full", "nocp"] },
        { name: "tgtread", label: "Secondary readable (-tgtread)", kind: "checkbox" }, { name: "critmode", label: "Critical mode (-critmode)", kind: "checkbox" }],
      command: (values) => `mkpprc ${devs(values)} -type ${values.type} -mode ${values.mode}${option(values, "tgtread")}${option(values, "critmode")} ${ids(values)}`,
    },
    simple("pausepprc", "Suspend", "pausepprc"),
    simple("resumepprc", "Resume", "resumepprc"),
    {
      id: "failoverpprc", label: "Fail over", refreshes: ["pprc"], fields: [dev, remotedev, { ...pairs, label: "Secondary:primary pairs", placeholder: "2000:1000" }, type],
      command: (values) => `failoverpprc ${devs(values)} -type ${values.type} ${ids(values)}`,
    },
    {
      id: "failbackpprc", label: "Fail back", refreshes: ["pprc"], fields: [dev, remotedev, pairs, type],
      command: (values) => `failbackpprc ${devs(values)} -type ${values.type} ${ids(values)}`,
    },
    {
      id: "freezepprc", label: "Freeze", destructive: true, refreshes: ["pprc", "paths"], fields: [dev, remotedev, lssPairs],
      command: (values) => `freezepprc ${devs(values)} ${ids(values, "lsspairs")}`,
    },
    {
      id: "unfreezepprc", label: "Unfreeze", refreshes: ["pprc", "paths"], fields: [dev, remotedev, lssPairs],
      command: (values) => `unfreezepprc ${devs(values)} ${ids(values, "lsspairs")}`,
    },
    { ...simple("rmpprc", "Remove pairs", "rmpprc"), destructive: true, quiet: true },
  ];
}

export function MirroringView() {
  const pairs = useStore((state) => state.pairs);
  const rates = useStore((state) => state.pairRates);
  const images = useStore((state) => state.images);
  const [selected, setSelected] = useState<Pair | null>(null);
  const rows = pairs.map((pair) => ({ ...pair, bytesPerSecond: rates.get(progressKey(pair.image, pair.id)) ?? 0 }));
  const imageIds = images.map((image) => image.id);
  const context: Values = selected === null ? {} : { dev: selected.image, pairs: selected.id, type: selected.type === "Global Copy" ? "gcp" : "mmir" };
  const remote = imageIds.find((id) => id !== context.dev);
  if (selected !== null && remote !== undefined) context.remotedev = remote;
  return (
    <div>
      <h2>Mirroring</h2>
      <SectionState sections={["pprc"]} />
      <Table label="PPRC pairs" columns={COLUMNS} rows={rows} rowKey={(pair) => progressKey(pair.image, pair.id)}
        selected={selected === null ? null : progressKey(selected.image, selected.id)} onSelect={setSelected} empty="No PPRC pairs." heightPx={360} />
      <Actions actions={actions(imageIds)} context={context} />
      <h3>Paths</h3>
      <PathsTable />
    </div>
  );
}

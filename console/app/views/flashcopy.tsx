/** @jsxImportSource preact */
// FlashCopy relationships with their options and live progress: out-of-sync
// tracks, percent copied, MB/s and time left, from the event stream's
// progress messages (the listing's own out-of-sync count when none has come).
import { useMemo, useState } from "preact/hooks";
import { Actions, option, valued, word, type Action } from "../components/actions.js";
import { ProgressBar } from "../components/progress.js";
import { SectionState } from "../components/section-state.js";
import { Table, type Column } from "../components/table.js";
import { eta, percent, rate } from "../format.js";
import { useStore } from "../hooks.js";
import { progressKey, TRACK_BYTES, type Flash, type FlashProgress, type Volume } from "../store.js";

interface FlashRow extends Flash {
  tracksLeft: number;
  trackCount: number;
  bytesPerSecond: number;
}

const COLUMNS: Array<Column<FlashRow>> = [
  { key: "id", label: "ID", cell: (flash) => flash.id },
  { key: "image", label: "Storage image", cell: (flash) => flash.image },
  { key: "state", label: "State", cell: (flash) => (flash.reason && flash.reason !== "-" ? `${flash.state} (${flash.reason})` : flash.state) },
  { key: "options", label: "Options", cell: (flash) => flash.options.join(", ") },
  { key: "oos", label: "Out-of-sync tracks", className: "number", cell: (flash) => String(flash.tracksLeft) },
  { key: "progress", label: "Copied", cell: (flash) => <ProgressBar percent={percent(flash.trackCount - flash.tracksLeft, flash.trackCount)} label={`${flash.id} copied`} /> },
  { key: "rate", label: "MB/s", className: "number", cell: (flash) => rate(flash.bytesPerSecond) },
  { key: "eta", label: "Time left", className: "number", cell: (flash) => (flash.options.includes("nocp") ? "-" : eta(flash.tracksLeft * TRACK_BYTES, flash.bytesPerSecond)) },
];

function actions(images: string[]): Action[] {
  const dev = { name: "dev", label: "Storage image", kind: "select" as const, options: images };
  const pairs = { name: "pairs", label: "Source:target pairs", required: true, placeholder: "1000:1001 1002:1003" };
  const ids = (values: Record<string, string>) => values.pairs.trim().split(/\s+/).map(word).join(" ");
  return [
    {
      id: "mkflash", label: "Establish FlashCopy", refreshes: ["flash", "images"],
      fields: [dev, pairs,
        { name: "nocp", label: "No background copy (-nocp)", kind: "checkbox" },
        { name: "persist", label: "Persistent (-persist)", kind: "checkbox" },
        { name: "record", label: "Record changes (-record)", kind: "checkbox" },
        { name: "tgtinhibit", label: "Inhibit target writes (-tgtinhibit)", kind: "checkbox" },
        { name: "freeze", label: "Freeze consistency (-freeze)", kind: "checkbox" },
        { name: "tgtpprc", label: "Target may be a PPRC primary (-tgtpprc)", kind: "checkbox" },
        { name: "seqnum", label: "Sequence number", placeholder: "optional" }],
      command: (values) => `mkflash -dev ${values.dev}${option(values, "nocp")}${option(values, "persist")}${option(values, "record")}` +
        `${option(values, "tgtinhibit")}${option(values, "freeze")}${option(values, "tgtpprc")}${valued(values, "seqnum")} ${ids(values)}`,
    },
    {
      id: "rmflash", label: "Withdraw FlashCopy", destructive: true, quiet: true, refreshes: ["flash", "volumes"],
      fields: [dev, pairs], command: (values) => `rmflash -dev ${values.dev} ${ids(values)}`,
    },
    {
      id: "unfreezeflash", label: "Unfreeze FlashCopy", refreshes: ["flash"],
      fields: [dev, { name: "lss", label: "LSS", required: true, placeholder: "10" }], command: (values) => `unfreezeflash -dev ${values.dev} ${word(values.lss)}`,
    },
  ];
}

// Tracks of a relationship: from its progress, else from its source volume's size.
function withProgress(flash: Flash, progress: FlashProgress | undefined, volumes: Map<string, Volume>): FlashRow {
  if (progress !== undefined) return { ...flash, ...progress };
  const source = volumes.get(`${flash.image} ${flash.source}`);
  const trackCount = source === undefined ? flash.outOfSyncTracks : Math.ceil(source.sizeBytes / TRACK_BYTES);
  return { ...flash, tracksLeft: flash.outOfSyncTracks, trackCount, bytesPerSecond: 0 };
}

export function FlashCopyView() {
  const flash = useStore((state) => state.flash);
  const progress = useStore((state) => state.flashProgress);
  const volumes = useStore((state) => state.volumes);
  const images = useStore((state) => state.images);
  const [selected, setSelected] = useState<FlashRow | null>(null);
  const volumeMap = useMemo(() => new Map(volumes.map((volume) => [`${volume.image} ${volume.id}`, volume])), [volumes]);
  const rows = useMemo(() => flash.map((relation) => withProgress(relation, progress.get(progressKey(relation.image, relation.id)), volumeMap)), [flash, progress, volumeMap]);
  return (
    <div>
      <h2>FlashCopy</h2>
      <SectionState sections={["flash"]} />
      <Table label="FlashCopy relationships" columns={COLUMNS} rows={rows} rowKey={(row) => progressKey(row.image, row.id)}
        selected={selected === null ? null : progressKey(selected.image, selected.id)} onSelect={setSelected} empty="No FlashCopy relationships." />
      <Actions actions={actions(images.map((image) => image.id))} context={selected === null ? {} : { dev: selected.image, pairs: selected.id }} />
    </div>
  );
}

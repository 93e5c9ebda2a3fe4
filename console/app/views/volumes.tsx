/** @jsxImportSource preact */
// Volumes by image, LSS and pool: size, data state, and the FlashCopy
// relationships and PPRC pairs each is in. The selected volume's space
// allocated comes from its showfbvol.
import { useEffect, useMemo, useState } from "preact/hooks";
import { Actions, valued, word, type Action } from "../components/actions.js";
import { SectionState } from "../components/section-state.js";
import { Table, type Column } from "../components/table.js";
import { bytes } from "../format.js";
import { useConsoleStore, useStore } from "../hooks.js";
import type { Row } from "../api.js";
import type { Flash, Pair, Volume } from "../store.js";

interface Filters {
  image: string;
  lss: string;
  pool: string;
  name: string;
}

interface VolumeRow extends Volume {
  flash: string[];
  pairs: string[];
}

const ALL = "all";
const EXTENT_BYTES = 1024 * 1024;

const COLUMNS: Array<Column<VolumeRow>> = [
  { key: "id", label: "ID", cell: (volume) => volume.id },
  { key: "name", label: "Name", cell: (volume) => volume.name },
  { key: "image", label: "Storage image", cell: (volume) => volume.image },
  { key: "lss", label: "LSS", cell: (volume) => volume.lss },
  { key: "pool", label: "Pool", cell: (volume) => volume.pool },
  { key: "size", label: "Size", className: "number", cell: (volume) => bytes(volume.sizeBytes) },
  { key: "state", label: "Data state", cell: (volume) => volume.dataState },
  { key: "flash", label: "FlashCopy", cell: (volume) => volume.flash.join(" ") || "-" },
  { key: "pairs", label: "PPRC", cell: (volume) => volume.pairs.join(" ") || "-" },
];

function actions(images: string[]): Action[] {
  return [
    {
      id: "mkfbvol", label: "Create volumes", refreshes: ["volumes", "images"],
      fields: [
        { name: "dev", label: "Storage image", kind: "select", options: images },
        { name: "ids", label: "Volume IDs", placeholder: "1000 or 1000-1003", required: true },
        { name: "cap", label: "Capacity", placeholder: "1", required: true, initial: "1" },
        { name: "type", label: "Unit", kind: "select", options: ["ds", "ess", "blocks"], hint: "ds: GiB (2^30 B), ess: GB (10^9 B), blocks: 512 B" },
        { name: "name", label: "Name", placeholder: "optional" },
        { name: "os", label: "OS type", placeholder: "optional, e.g. aix" },
        { name: "extpool", label: "Extent pool", placeholder: "optional, e.g. P0" },
      ],
      command: (values) => `mkfbvol -dev ${values.dev} -cap ${word(values.cap)} -type ${values.type}${values.name ? ` -name ${word(values.name)}` : ""}` +
        `${valued(values, "os")}${valued(values, "extpool")} ${word(values.ids)}`,
    },
    {
      id: "rmfbvol", label: "Remove volumes", destructive: true, quiet: true, refreshes: ["volumes", "images"],
      fields: [{ name: "dev", label: "Storage image", kind: "select", options: images }, { name: "ids", label: "Volume IDs", required: true, placeholder: "1000 or 1000-1003" }],
      command: (values) => `rmfbvol -dev ${values.dev} ${word(values.ids)}`,
    },
  ];
}

export function VolumesView() {
  const volumes = useStore((state) => state.volumes);
  const flash = useStore((state) => state.flash);
  const pairs = useStore((state) => state.pairs);
  const images = useStore((state) => state.images);
  const [filters, setFilters] = useState<Filters>({ image: ALL, lss: "", pool: ALL, name: "" });
  const [selected, setSelected] = useState<VolumeRow | null>(null);
  const rows = useMemo(() => joinCopies(volumes, flash, pairs), [volumes, flash, pairs]);
  const shown = useMemo(() => rows.filter((volume) => matches(volume, filters)), [rows, filters]);
  const pools = useMemo(() => [...new Set(volumes.map((volume) => volume.pool))].sort(), [volumes]);
  const imageIds = images.map((image) => image.id);
  const set = (name: keyof Filters) => (event: Event) => setFilters({ ...filters, [name]: (event.currentTarget as HTMLInputElement).value });
  return (
    <div>
      <h2>Volumes</h2>
      <form class="filters" aria-label="Filter volumes" onSubmit={(event) => event.preventDefault()}>
        <label>Storage image <select name="image" value={filters.image} onChange={set("image")}>
          <option value={ALL}>all</option>{imageIds.map((id) => <option key={id} value={id}>{id}</option>)}
        </select></label>
        <label>LSS <input name="lss" value={filters.lss} onInput={set("lss")} placeholder="10" size={4} /></label>
        <label>Pool <select name="pool" value={filters.pool} onChange={set("pool")}>
          <option value={ALL}>all</option>{pools.map((pool) => <option key={pool} value={pool}>{pool}</option>)}
        </select></label>
        <label>Name <input name="name" value={filters.name} onInput={set("name")} placeholder="part of a name" /></label>
        <span class="muted" role="status">{shown.length} of {rows.length} volumes</span>
      </form>
      <SectionState sections={["volumes"]} />
      <Table label="Volumes" columns={COLUMNS} rows={shown} rowKey={(volume) => `${volume.image} ${volume.id}`}
        selected={selected === null ? null : `${selected.image} ${selected.id}`} onSelect={setSelected} empty="No volumes." />
      {selected !== null && <VolumeDetail volume={selected} />}
      <Actions actions={actions(imageIds)} context={selected === null ? {} : { dev: selected.image, ids: selected.id }} />
    </div>
  );
}

function matches(volume: VolumeRow, filters: Filters): boolean {
  if (filters.image !== ALL && volume.image !== filters.image) return false;
  if (filters.lss !== "" && volume.lss !== filters.lss.trim().toUpperCase()) return false;
  if (filters.pool !== ALL && volume.pool !== filters.pool) return false;
  return filters.name === "" || volume.name.toLowerCase().includes(filters.name.toLowerCase());
}

function joinCopies(volumes: Volume[], flash: Flash[], pairs: Pair[]): VolumeRow[] {
  const byVolume = new Map<string, { flash: string[]; pairs: string[] }>();
  const entry = (image: string, id: string) => {
    const key = `${image} ${id}`;
    let found = byVolume.get(key);
    if (found === undefined) byVolume.set(key, (found = { flash: [], pairs: [] }));
    return found;
  };
  for (const relation of flash) {
    entry(relation.image, relation.source).flash.push(relation.id);
    entry(relation.image, relation.target).flash.push(relation.id);
  }
  // An image lists its secondaries' pairs too (in Target states), primary first in the ID.
  for (const pair of pairs) {
    const [primary, secondary] = pair.id.split(":");
    entry(pair.image, pair.state.startsWith("Target") ? secondary : primary).pairs.push(pair.id);
  }
  return volumes.map((volume) => ({ ...volume, ...(byVolume.get(`${volume.image} ${volume.id}`) ?? { flash: [], pairs: [] }) }));
}

function VolumeDetail(props: { volume: VolumeRow }) {
  const store = useConsoleStore();
  const [detail, setDetail] = useState<Row | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const { image, id } = props.volume;
  useEffect(() => {
    setDetail(null);
    setFailure(null);
    store.api.list(`showfbvol -dev ${image} ${id}`).then((rows) => setDetail(rows[0] ?? null), (error: Error) => setFailure(error.message));
  }, [image, id]);
  return (
    <section class="detail" aria-label={`Volume ${id}`}>
      <h3>Volume {id} on {image}</h3>
      {failure !== null && <pre class="errors">{failure}</pre>}
      {detail === null ? <p class="muted">Loading…</p> : (
        <dl>
          <dt>Name</dt><dd>{detail.Name}</dd>
          <dt>Size</dt><dd>{bytes(props.volume.sizeBytes)}</dd>
          <dt>Space allocated</dt><dd>{bytes(Number(detail.realextents) * EXTENT_BYTES)}</dd>
          <dt>Data state</dt><dd>{detail.datastate}</dd>
          <dt>OS type</dt><dd>{detail.OS}</dd>
          <dt>Pool</dt><dd>{detail.extpool}</dd>
          <dt>FlashCopy</dt><dd>{detail.FlashCopy}</dd>
          <dt>Created</dt><dd>{detail.DateCreated}</dd>
        </dl>
      )}
    </section>
  );
}

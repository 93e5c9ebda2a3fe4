/** @jsxImportSource preact */
// Storage images: model, state and the space their pools have given out.
import { Table, type Column } from "../components/table.js";
import { ProgressBar } from "../components/progress.js";
import { SectionState } from "../components/section-state.js";
import { bytes, percent } from "../format.js";
import { useStore } from "../hooks.js";
import type { Image } from "../store.js";

const COLUMNS: Array<Column<Image>> = [
  { key: "id", label: "Storage image", cell: (image) => image.id },
  { key: "model", label: "Model", cell: (image) => `${image.model} (${image.mtm})` },
  { key: "state", label: "State", cell: (image) => image.state },
  { key: "wwnn", label: "WWNN", cell: (image) => image.wwnn },
  { key: "volumes", label: "Volumes", className: "number", cell: (image) => String(image.volumeCount) },
  { key: "pools", label: "Extent pools", cell: (image) => image.pools.map((pool) => pool.ID).join(", ") },
  { key: "capacity", label: "Capacity", className: "number", cell: (image) => bytes(image.capacityBytes) },
  { key: "used", label: "Space used", cell: (image) => (
    <span class="used"><ProgressBar percent={percent(image.allocatedBytes, image.capacityBytes)} label={`space used on ${image.id}`} />{bytes(image.allocatedBytes)}</span>
  ) },
];

export function ImagesView() {
  const images = useStore((state) => state.images);
  return (
    <div>
      <h2>Storage images</h2>
      <SectionState sections={["images"]} />
      <Table label="Storage images" columns={COLUMNS} rows={images} rowKey={(image) => image.id} empty="No storage images." heightPx={300} />
      <h3>Extent pools</h3>
      <Table label="Extent pools" rows={images.flatMap((image) => image.pools.map((pool) => ({ image: image.id, pool })))}
        rowKey={(row) => `${row.image} ${row.pool.ID}`} heightPx={300} columns={[
          { key: "image", label: "Storage image", cell: (row) => row.image },
          { key: "id", label: "Pool", cell: (row) => row.pool.ID },
          { key: "name", label: "Name", cell: (row) => row.pool.Name },
          { key: "rankgrp", label: "Rank group", cell: (row) => row.pool.rankgrp },
          { key: "total", label: "Capacity (GiB)", className: "number", cell: (row) => row.pool["totlstor (2^30B)"] },
          { key: "avail", label: "Available (GiB)", className: "number", cell: (row) => row.pool["availstor (2^30B)"] },
          { key: "alloc", label: "Allocated", className: "number", cell: (row) => `${row.pool["%allocated"]}%` },
          { key: "vols", label: "Volumes", className: "number", cell: (row) => row.pool.numvols },
        ]} />
    </div>
  );
}

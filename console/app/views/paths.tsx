/** @jsxImportSource preact */
// PPRC paths with their port pairs and states, and each image's I/O ports;
// the actions that make and remove paths.
import { Actions, option, word, type Action, type Values } from "../components/actions.js";
import { SectionState } from "../components/section-state.js";
import { Table, type Column } from "../components/table.js";
import { useStore } from "../hooks.js";
import type { Path, Port } from "../store.js";

const PATH_COLUMNS: Array<Column<Path>> = [
  { key: "image", label: "Storage image", cell: (path) => path.image },
  { key: "src", label: "Source LSS", cell: (path) => path.source },
  { key: "tgt", label: "Target LSS", cell: (path) => path.target },
  { key: "state", label: "State", cell: (path) => path.state },
  { key: "reason", label: "Reason", cell: (path) => path.reason },
  { key: "ports", label: "Port pairs", cell: (path) => path.ports.join(" ") },
  { key: "wwnn", label: "Target WWNN", cell: (path) => path.targetWwnn },
];

const PORT_COLUMNS: Array<Column<Port>> = [
  { key: "image", label: "Storage image", cell: (port) => port.image },
  { key: "id", label: "Port", cell: (port) => port.id },
  { key: "wwpn", label: "WWPN", cell: (port) => port.wwpn },
  { key: "state", label: "State", cell: (port) => port.state },
  { key: "type", label: "Type", cell: (port) => port.type },
];

export function PathsTable() {
  const paths = useStore((state) => state.paths);
  return (
    <>
      <SectionState sections={["paths"]} />
      <Table label="PPRC paths" columns={PATH_COLUMNS} rows={paths} rowKey={(path) => `${path.image} ${path.source}:${path.target}`} empty="No PPRC paths." heightPx={240} />
    </>
  );
}

function actions(images: { id: string; wwnn: string }[]): Action[] {
  const ids = images.map((image) => image.id);
  const dev = { name: "dev", label: "Storage image", kind: "select" as const, options: ids };
  const remotedev = { name: "remotedev", label: "Remote storage image", kind: "select" as const, options: [...ids].reverse() };
  const wwnnOf = (values: Values) => values.remotewwnn || (images.find((image) => image.id === values.remotedev)?.wwnn ?? "");
  return [
    {
      id: "mkpprcpath", label: "Make path", refreshes: ["paths"],
      fields: [dev, remotedev, { name: "remotewwnn", label: "Remote WWNN", placeholder: "the remote image's, if empty" },
        { name: "srclss", label: "Source LSS", required: true, placeholder: "10" }, { name: "tgtlss", label: "Target LSS", required: true, placeholder: "20" },
        { name: "ports", label: "Port pairs", required: true, placeholder: "I0010:I0143 I0011:I0142" },
        { name: "consistgrp", label: "Consistency group (-consistgrp)", kind: "checkbox" }],
      command: (values) => `mkpprcpath -dev ${values.dev} -remotedev ${values.remotedev} -remotewwnn ${word(wwnnOf(values))} -srclss ${word(values.srclss)}` +
        ` -tgtlss ${word(values.tgtlss)}${option(values, "consistgrp")} ${values.ports.trim().split(/\s+/).map(word).join(" ")}`,
    },
    {
      id: "rmpprcpath", label: "Remove path", destructive: true, quiet: true, refreshes: ["paths", "pprc"],
      fields: [dev, remotedev, { name: "lsspairs", label: "Source:target LSS pairs", required: true, placeholder: "10:20" },
        { name: "force", label: "Even if pairs use it (-force)", kind: "checkbox" }],
      command: (values) => `rmpprcpath -dev ${values.dev} -remotedev ${values.remotedev}${option(values, "force")} ${values.lsspairs.trim().split(/\s+/).map(word).join(" ")}`,
    },
  ];
}

export function PathsView() {
  const ports = useStore((state) => state.ports);
  const images = useStore((state) => state.images);
  return (
    <div>
      <h2>Paths and ports</h2>
      <PathsTable />
      <Actions actions={actions(images)} />
      <h3>I/O ports</h3>
      <SectionState sections={["ports"]} />
      <Table label="I/O ports" columns={PORT_COLUMNS} rows={ports} rowKey={(port) => `${port.image} ${port.id}`} empty="No I/O ports." heightPx={300} />
    </div>
  );
}

// I/O ports of a storage image, DS8000 style: `Ieesp` (enclosure ee, slot s,
// port p). Every image has the same few; PPRC paths run between them.

export interface IoPort {
  readonly id: string; // "I0010"
  readonly enclosure: number;
  readonly slot: number;
  readonly port: number;
}

export const IO_PORT_IDS = ["I0010", "I0011", "I0142", "I0143"] as const;

export const IO_PORTS: readonly IoPort[] = IO_PORT_IDS.map((id) => ({
  id,
  enclosure: parseInt(id.slice(1, 3), 16),
  slot: parseInt(id[3], 16),
  port: parseInt(id[4], 16),
}));

// A port's WWPN from its image's WWNN, as DS8000 derives them
// (50:05:07:63:0z:FF:Cx:xx → 50:05:07:63:0z:yy:yx:xx, yy and y from the port's position).
export function portWwpn(wwnn: string, port: IoPort): string {
  const position = ((port.enclosure << 4) | port.slot).toString(16).toUpperCase().padStart(2, "0");
  return `${wwnn.slice(0, 10)}${position}${port.port.toString(16).toUpperCase()}${wwnn.slice(13)}`;
}

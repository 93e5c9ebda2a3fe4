// What the figures were measured on: ratios travel between machines, absolute
// numbers do not.
import { cpus, availableParallelism, totalmem, loadavg, release, platform, arch } from "node:os";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  memory: string;
  node: string;
  v8: string;
  platform: string;
  kernel: string;
  loadAverage1m: number;
}

export function machineInfo(): MachineInfo {
  const memoryBytes = totalmem();
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cores: availableParallelism(),
    memoryBytes,
    memory: `${(memoryBytes / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${arch()}`,
    kernel: release(),
    loadAverage1m: +loadavg()[0].toFixed(2),
  };
}

export function describeMachine(machine: MachineInfo): string {
  return `${machine.cpuModel}, ${machine.cores} cores, ${machine.memory}, Node ${machine.node} (V8 ${machine.v8}), `
    + `${machine.platform}, load average ${machine.loadAverage1m} at start`;
}

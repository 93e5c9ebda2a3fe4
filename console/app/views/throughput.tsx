/** @jsxImportSource preact */
// FlashCopy background copy and PPRC mirroring throughput over the last
// minutes, one point per progress message of the event stream (uPlot).
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { rate } from "../format.js";
import { useStore } from "../hooks.js";

const MB = 1e6;
const WINDOW_SECONDS_MAX = 600;
const WINDOW_SECONDS_MIN = 60;

export function ThroughputView() {
  const throughput = useStore((state) => state.throughput);
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  useEffect(() => {
    const element = box.current!;
    const options: uPlot.Options = {
      width: Math.max(320, element.clientWidth), height: 320, title: "Copy and mirror throughput (MB/s)",
      series: [{}, { label: "FlashCopy", stroke: "#1f6feb", width: 2 }, { label: "PPRC", stroke: "#d2691e", width: 2 }],
      axes: [{}, { label: "MB/s" }],
      scales: {
        // The last minutes: ten at most, one at least, ending at the newest sample.
        x: { time: true, range: (_chart, min, max) => [Math.max(min, max - WINDOW_SECONDS_MAX), Math.max(max, min + WINDOW_SECONDS_MIN)] },
        y: { range: (_chart, _min, max) => [0, Math.max(1, max * 1.1)] },
      },
    };
    chart.current = new uPlot(options, [[], [], []], element);
    const resize = () => chart.current?.setSize({ width: Math.max(320, element.clientWidth), height: 320 });
    addEventListener("resize", resize);
    return () => {
      removeEventListener("resize", resize);
      chart.current?.destroy();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    chart.current?.setData([throughput.seconds, throughput.flash.map((value) => value / MB), throughput.pprc.map((value) => value / MB)]);
  }, [throughput]);
  const last = throughput.seconds.length - 1;
  return (
    <div>
      <h2>Throughput</h2>
      <p role="status">
        Now: FlashCopy {rate(last < 0 ? 0 : throughput.flash[last])}, PPRC {rate(last < 0 ? 0 : throughput.pprc[last])}
        <span class="muted"> ({throughput.seconds.length} samples since this page opened; the stream sends one a second while anything copies)</span>
      </p>
      <div class="chart" ref={box} role="img" aria-label="Throughput chart" />
    </div>
  );
}

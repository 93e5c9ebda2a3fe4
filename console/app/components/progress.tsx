/** @jsxImportSource preact */
// A labelled progress bar: the width moves, the number says it in words.
export function ProgressBar(props: { percent: number; label: string }) {
  const percent = Math.max(0, Math.min(100, Math.round(props.percent)));
  return (
    <span class="progress-box">
      <span class="progress" role="progressbar" aria-label={props.label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
        <span class="progress-fill" style={{ width: `${percent}%` }} />
      </span>
      <span class="progress-text">{percent}%</span>
    </span>
  );
}

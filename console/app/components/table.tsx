/** @jsxImportSource preact */
// A table that draws only the rows in view (plus a margin), so 4,000 volumes
// or 1,000 relationships cost the same few dozen DOM rows as ten. It is a
// real <table> (headers stay announced), scrolls in its own box, and takes
// the keyboard: arrows, Page Up/Down, Home/End move the active row, Enter
// or Space select it. Every cell is text (or a component given text), never HTML.
import type { ComponentChild } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

export interface Column<T> {
  key: string;
  label: string;
  cell: (row: T) => ComponentChild;
  className?: string;
}

export interface TableProps<T> {
  label: string; // what the table lists, for assistive technology and tests
  columns: Array<Column<T>>;
  rows: readonly T[];
  rowKey: (row: T) => string;
  selected?: string | null;
  onSelect?: (row: T) => void;
  empty?: string;
  heightPx?: number;
}

export const ROW_HEIGHT_PX = 30;
const OVERSCAN_ROWS = 8;
const HEIGHT_PX_DEFAULT = 420;

export function Table<T>(props: TableProps<T>) {
  const { rows, columns, rowKey } = props;
  const heightPx = props.heightPx ?? HEIGHT_PX_DEFAULT;
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [active, setActive] = useState(0);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT_PX) - OVERSCAN_ROWS);
  const last = Math.min(rows.length, Math.ceil((scrollTop + heightPx) / ROW_HEIGHT_PX) + OVERSCAN_ROWS);
  const activeIndex = Math.min(active, Math.max(0, rows.length - 1));

  useEffect(() => {
    // Keep the active row in view when the keyboard moves it.
    const element = box.current;
    if (element === null) return;
    const top = activeIndex * ROW_HEIGHT_PX;
    const headerPx = ROW_HEIGHT_PX;
    if (top < element.scrollTop) element.scrollTop = top;
    else if (top + ROW_HEIGHT_PX > element.scrollTop + element.clientHeight - headerPx) element.scrollTop = top + ROW_HEIGHT_PX - element.clientHeight + headerPx;
  }, [activeIndex]);

  const onKeyDown = (event: KeyboardEvent) => {
    const page = Math.max(1, Math.floor(heightPx / ROW_HEIGHT_PX) - 1);
    const moves: Record<string, number> = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -rows.length, End: rows.length };
    if (event.key in moves) {
      event.preventDefault();
      setActive(Math.max(0, Math.min(rows.length - 1, activeIndex + moves[event.key])));
    } else if ((event.key === "Enter" || event.key === " ") && rows[activeIndex] !== undefined) {
      event.preventDefault();
      props.onSelect?.(rows[activeIndex]);
    }
  };

  const visible = rows.slice(first, last);
  return (
    <div class="table-box" ref={box} style={{ maxHeight: `${heightPx}px` }} tabIndex={0} role="region" aria-label={props.label}
      onScroll={(event) => setScrollTop((event.currentTarget as HTMLDivElement).scrollTop)} onKeyDown={onKeyDown}>
      <table aria-label={props.label} aria-rowcount={rows.length + 1} data-rows={rows.length}>
        <thead>
          <tr>{columns.map((column) => <th scope="col" key={column.key} class={column.className}>{column.label}</th>)}</tr>
        </thead>
        <tbody>
          {first > 0 && <tr class="spacer" aria-hidden="true" style={{ height: `${first * ROW_HEIGHT_PX}px` }}><td colSpan={columns.length} /></tr>}
          {visible.map((row, offset) => {
            const index = first + offset;
            const key = rowKey(row);
            const classes = [index === activeIndex ? "active" : "", key === props.selected ? "selected" : ""].join(" ").trim();
            return (
              <tr key={key} class={classes} aria-rowindex={index + 2} aria-selected={key === props.selected} data-key={key}
                onClick={() => { setActive(index); props.onSelect?.(row); }}>
                {columns.map((column) => <td key={column.key} class={column.className}>{column.cell(row)}</td>)}
              </tr>
            );
          })}
          {last < rows.length && <tr class="spacer" aria-hidden="true" style={{ height: `${(rows.length - last) * ROW_HEIGHT_PX}px` }}><td colSpan={columns.length} /></tr>}
        </tbody>
      </table>
      {rows.length === 0 && <p class="empty">{props.empty ?? "Nothing to show."}</p>}
    </div>
  );
}

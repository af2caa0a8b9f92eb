/**
 * One uPlot chart per series: the points over the page's range, with the range of the
 * last refetch shaded, so that what a notice changed is seen where it changed.
 */
import uPlot from 'uplot';

/** A series chart in its panel. */
export interface SeriesChart {
  /**
   * Draws `points`, shading the range of `changed` (epoch ms) when given.
   */
  update(points: ReadonlyArray<{ start: string; value: number }>, changed?: { from: number; to: number }): void;
  destroy(): void;
}

const HEIGHT = 150;

/** A chart in `container`, sized to its width and following it; `format` prints the y axis. */
export function createSeriesChart(container: HTMLElement, label: string, color: string, format: (v: number) => string): SeriesChart {
  let shade: { from: number; to: number } | undefined;
  const options: uPlot.Options = {
    width: Math.max(200, container.clientWidth),
    height: HEIGHT,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [
      { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e5e7eb' } },
      {
        stroke: '#6b7280',
        grid: { stroke: '#eef0f3' },
        ticks: { stroke: '#e5e7eb' },
        size: 56,
        values: (_u, values) => values.map(format),
      },
    ],
    series: [{}, { label, stroke: color, width: 1.5, fill: `${color}22`, points: { show: false } }],
    hooks: {
      drawClear: [
        (u) => {
          if (!shade) return;
          const left = u.valToPos(shade.from / 1000, 'x', true);
          const right = u.valToPos(shade.to / 1000, 'x', true);
          const from = Math.max(u.bbox.left, Math.min(left, right));
          const to = Math.min(u.bbox.left + u.bbox.width, Math.max(left, right));
          if (to <= from) return;
          u.ctx.save();
          u.ctx.fillStyle = 'rgba(250, 204, 21, 0.35)';
          // At least 3 px, so that a one-hour change in a 90-day chart is still seen.
          u.ctx.fillRect(from, u.bbox.top, Math.max(3, to - from), u.bbox.height);
          u.ctx.restore();
        },
      ],
    },
  };
  const plot = new uPlot(options, [[], []], container);
  const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, container.clientWidth), height: HEIGHT }));
  resize.observe(container);
  return {
    update(points, changed) {
      shade = changed;
      plot.setData([points.map((p) => Date.parse(p.start) / 1000), points.map((p) => p.value)]);
      container.dataset.points = String(points.length);
    },
    destroy() {
      resize.disconnect();
      plot.destroy();
    },
  };
}

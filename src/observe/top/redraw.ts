// Redrawing only the panels that changed. blessed's screen.render() has every element write all
// its cells into the screen buffer again, then compares the buffer with what the terminal shows;
// at one refresh a second most panels of `top` show what they showed before (the pool, the gauge,
// the events and logs of a quiet instance), and writing them again was half of what a refresh
// cost. A panel left out keeps its cells in the buffer as they are, which is right as long as
// nothing else drew over it or cleared it: so only the refreshes of the dashboard's own update
// leave panels out, and only when the layout is the one of the last render; every other render
// (keys, focus, resize, blessed's own) draws everything.
import type blessed from 'blessed';

type Panel = blessed.Widgets.BoxElement;

export class PanelRedraw {
  private readonly changed = new Set<Panel>();
  private partial = false;
  private all = true;

  /** `panels`: the screen's top-level elements whose render may be left out. */
  constructor(panels: Panel[]) {
    const skip = (p: Panel) => this.partial && !this.changed.has(p);
    for (const p of panels) {
      const render = p.render;
      p.render = function (this: Panel) {
        // lpos: where it was drawn last; a panel never drawn is drawn.
        const drawn = (this as Panel & { lpos?: unknown }).lpos;
        return skip(p) && drawn ? drawn : render.call(this);
      } as typeof p.render;
    }
  }

  /** `p` shows something else from the next render on (it had its content, items, data or label set). */
  mark(p: Panel): void {
    this.changed.add(p);
  }

  /** The next render must draw every panel: the geometry changed, or an overlay came or went. */
  everything(): void {
    this.all = true;
  }

  /** Runs `render` drawing only the panels marked since the last run (all of them when everything() was called). */
  run(render: () => void): void {
    this.partial = !this.all;
    try {
      render();
    } finally {
      this.partial = false;
      this.all = false;
      this.changed.clear();
    }
  }
}

/**
 * Minimap: the whole scene in miniature on a canvas (redrawn only when the scene or overlay changes),
 * with the viewport as a rectangle; click or drag to move the view.
 */
import type { Rect } from "./layout/elkGraph.ts";
import type { Renderer } from "./render.ts";
import type { Scene, SceneItem } from "./scene.ts";

export class Minimap {
  readonly canvas: HTMLCanvasElement;
  private readonly view: HTMLDivElement;
  private scale = 1;
  private off = { x: 0, y: 0 };
  private bounds: Rect = { x: 0, y: 0, w: 1, h: 1 };

  constructor(
    readonly host: HTMLElement,
    private readonly renderer: Renderer,
    private readonly fillOf: (si: SceneItem) => string | undefined,
  ) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "minimap-canvas";
    this.canvas.setAttribute("aria-hidden", "true");
    this.view = document.createElement("div");
    this.view.className = "minimap-view";
    host.append(this.canvas, this.view);
    let dragging = false;
    const move = (ev: PointerEvent) => {
      const r = this.canvas.getBoundingClientRect();
      const wx = (ev.clientX - r.left - this.off.x) / this.scale + this.bounds.x;
      const wy = (ev.clientY - r.top - this.off.y) / this.scale + this.bounds.y;
      const { w, h } = this.renderer.size;
      const k = this.renderer.view.k;
      this.renderer.setView({ k, x: w / 2 - wx * k, y: h / 2 - wy * k });
    };
    host.addEventListener("pointerdown", (ev) => {
      dragging = true;
      host.setPointerCapture(ev.pointerId);
      move(ev);
    });
    host.addEventListener("pointermove", (ev) => dragging && move(ev));
    host.addEventListener("pointerup", () => (dragging = false));
  }

  /** Redraws the miniature (scene or colours changed). */
  draw(scene: Scene): void {
    const W = this.host.clientWidth || 200, H = this.host.clientHeight || 140;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = W * dpr;
    this.canvas.height = H * dpr;
    this.canvas.style.width = `${W}px`;
    this.canvas.style.height = `${H}px`;
    const b = scene.bounds;
    this.bounds = b;
    this.scale = Math.min(W / Math.max(1, b.w), H / Math.max(1, b.h));
    this.off = { x: (W - b.w * this.scale) / 2, y: (H - b.h * this.scale) / 2 };
    const g = this.canvas.getContext("2d");
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    const cs = getComputedStyle(this.host);
    const fg = cs.getPropertyValue("--mm-item").trim() || "#888";
    const ct = cs.getPropertyValue("--mm-container").trim() || "rgba(128,128,128,.25)";
    for (const si of scene.items) {
      const r = si.rect;
      const x = this.off.x + (r.x - b.x) * this.scale, y = this.off.y + (r.y - b.y) * this.scale;
      const w = Math.max(1, r.w * this.scale), h = Math.max(1, r.h * this.scale);
      if (si.expanded) {
        g.strokeStyle = ct;
        g.strokeRect(x, y, w, h);
      } else {
        g.fillStyle = this.fillOf(si) ?? fg;
        g.fillRect(x, y, w, h);
      }
    }
    this.updateView();
  }

  updateView(): void {
    const v = this.renderer.worldViewport();
    const b = this.bounds;
    const x = this.off.x + (v.x - b.x) * this.scale, y = this.off.y + (v.y - b.y) * this.scale;
    const W = this.host.clientWidth || 200, H = this.host.clientHeight || 140;
    const x0 = Math.max(0, x), y0 = Math.max(0, y);
    const x1 = Math.min(W, x + v.w * this.scale), y1 = Math.min(H, y + v.h * this.scale);
    Object.assign(this.view.style, { left: `${x0}px`, top: `${y0}px`, width: `${Math.max(2, x1 - x0)}px`, height: `${Math.max(2, y1 - y0)}px` });
  }
}

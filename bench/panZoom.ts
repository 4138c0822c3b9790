/** The pan-and-zoom gesture both explorer benchmarks replay: zoom out to the whole graph, pan across it,
 * zoom in and pan at full size (wheel steps one frame apart). */
import type { Page } from "playwright-core";

async function wheel(page: Page, steps: number, dx: (i: number) => number, dy: (i: number) => number, zoom: boolean): Promise<void> {
  if (zoom) await page.keyboard.down("Control");
  for (let i = 0; i < steps; i++) {
    await page.mouse.wheel(dx(i), dy(i));
    await page.waitForTimeout(16);
  }
  if (zoom) await page.keyboard.up("Control");
}

export async function panAndZoom(page: Page): Promise<void> {
  await page.mouse.move(600, 450);
  await wheel(page, 30, () => 0, () => 60, true);
  await wheel(page, 60, (i) => (i % 20 < 10 ? 80 : -80), (i) => (i < 30 ? 120 : -120), false);
  await wheel(page, 30, () => 0, () => -60, true);
  await wheel(page, 60, () => 0, () => 150, false);
  await page.waitForTimeout(500);
}

// Loads the status page in headless Chromium (playwright-core, the Debian
// chromium package) and reports what a user would see: console errors,
// the Services shown, the chart bars, and coloured pixels of a chart.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumMissing(): string | undefined {
  if (!fs.existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  try {
    // Resolved at run time so the unit tests build without it.
    fs.accessSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../../../node_modules/playwright-core/package.json'));
  } catch {
    return 'playwright-core is not installed (npm install --save-dev playwright-core)';
  }
  return undefined;
}

export interface PageReport {
  errors: string[];
  services: string[];
  /** Bars of the Maglev share charts, per service: their widths in px. */
  bars: Record<string, number[]>;
  /** Syncs drawn in the latency chart. */
  syncBars: number;
  /** Bars of the map pressure chart. */
  pressureBars: number;
  /** Pixels of the first share chart's screenshot in a bar colour. */
  colouredPixels: number;
  summary: string;
}

const PALETTE = ['#2e6be6', '#12b76a', '#f79009', '#7a5af8', '#ee46bc', '#06aed4', '#f04438', '#66c61c', '#875bf7', '#e62e05'];

export async function inspectStatusPage(url: string, opts: { expectServices: string[]; screenshot?: string; timeoutMs?: number }): Promise<PageReport> {
  const { chromium } = await import('playwright-core');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const errors: string[] = [];
  try {
    const page = await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`);
    });
    await page.goto(url, { waitUntil: 'load', timeout: opts.timeoutMs ?? 30_000 });
    await page.waitForFunction((want: string[]) => {
      const shown = [...document.querySelectorAll('.service')].map((e) => e.getAttribute('data-service'));
      return Number(document.body.dataset.loaded || 0) >= 1 && want.every((s) => shown.includes(s))
        && document.querySelector('#latency-chart') !== null;
    }, opts.expectServices, { timeout: opts.timeoutMs ?? 30_000 });
    const info = await page.evaluate(() => {
      const bars: Record<string, number[]> = {};
      for (const s of document.querySelectorAll('.service')) {
        bars[s.getAttribute('data-service')!] = [...s.querySelectorAll('svg.share-chart rect.bar')].map((r) => r.getBoundingClientRect().width);
      }
      return {
        services: [...document.querySelectorAll('.service')].map((e) => e.getAttribute('data-service')!),
        bars,
        syncBars: document.querySelectorAll('#latency-chart rect.sync').length,
        pressureBars: document.querySelectorAll('#pressure-chart rect.bar').length,
        summary: document.getElementById('summary')?.textContent ?? '',
      };
    });
    if (opts.screenshot) await page.screenshot({ path: opts.screenshot, fullPage: true });
    // Pixel check: screenshot the first chart, then count its pixels in a bar colour.
    let colouredPixels = 0;
    const chart = page.locator('svg.share-chart').first();
    if (await chart.count()) {
      const png = (await chart.screenshot()).toString('base64');
      colouredPixels = await page.evaluate(async ({ b64, palette }) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const c = document.createElement('canvas');
        c.width = img.width;
        c.height = img.height;
        const g = c.getContext('2d')!;
        g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data;
        const rgb = palette.map((h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (rgb.some(([r, gg, b]) => Math.abs(d[i]! - r!) < 8 && Math.abs(d[i + 1]! - gg!) < 8 && Math.abs(d[i + 2]! - b!) < 8)) n++;
        }
        return n;
      }, { b64: png, palette: PALETTE });
    }
    return { errors, colouredPixels, ...info };
  } finally {
    await ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// Driven by bench_view.py: time the editor in a real JupyterLab and Netron in the same headless
// Chromium. argv[2]: JSON {lab, token, notebooks: {model: path}, netron: {model: url}}.
// Prints one JSON line of results.
import { createRequire } from 'module';
const require = createRequire(new URL('../js/package.json', import.meta.url));
const { chromium } = require('@playwright/test');

const cfg = JSON.parse(process.argv[2]);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
const out = {};

async function drawn(page, timeout = 300_000) {
  // The graph is drawn: nodes on the canvas and laid out top to bottom.
  await page.waitForFunction(() => {
    const el = document.querySelector('.kw-graph');
    const cy = el && el._cyreg && el._cyreg.cy;
    if (!cy || cy.nodes().length === 0 || cy.edges().length === 0) return false;
    return cy.edges().filter((e) => e.target().position('y') <= e.source().position('y')).length === 0;
  }, null, { timeout, polling: 20 });
}

for (const [name, nb] of Object.entries(cfg.notebooks)) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  const r = {};
  try {
    await page.goto(`${cfg.lab}/lab/workspaces/bench-${name}/tree/${nb}?reset&token=${cfg.token}`);
    await page.locator('.jp-Notebook').first().waitFor({ timeout: 120_000 });
    await page.getByText('Python 3 (ipykernel) | Idle').first().waitFor({ timeout: 120_000 });
    // Cell 1 builds the model (not timed).
    await page.locator('.jp-Cell').first().click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Shift+Enter');
    await page.waitForTimeout(500);
    await page.getByText('Python 3 (ipykernel) | Idle').first().waitFor({ timeout: 600_000 });
    // Cell 2: kw.ModelEditor(model) → the graph drawn.
    const t0 = Date.now();
    await page.keyboard.press('Shift+Enter');
    await drawn(page);
    r.open_s = (Date.now() - t0) / 1000;
    await page.waitForTimeout(1000);
    // Click a box → the panel filled. A layer drawn at the top level (the stem).
    const target = cfg.click[name];
    await page.locator('.kw-graph').first().scrollIntoViewIfNeeded();
    const point = await page.evaluate((id) => {
      const el = document.querySelector('.kw-graph');
      const p = el._cyreg.cy.getElementById(id).renderedPosition();
      const box = el.getBoundingClientRect();
      return { x: box.left + p.x, y: box.top + p.y };
    }, target);
    // Timed in the page, from the mouse press: to the title naming the layer and its details
    // drawn (MutationObservers; Playwright's own waiting polls at up to 100-500 ms intervals,
    // coarser than the target), and to the last change of the panel (the preview of the
    // prefilled action, a dry run, comes after) within 2 s.
    await page.evaluate((id) => {
      const title = document.querySelector('.kw-title');
      const details = document.querySelector('.kw-details');
      const panel = title.parentElement;
      window.__kwClick = new Promise((resolve) => {
        let t0 = null;
        let filled = null;
        let last = null;
        let detailsChanged = false;
        document.addEventListener('mousedown', () => { t0 = performance.now(); },
                                  { capture: true, once: true });
        new MutationObserver(() => { detailsChanged = true; })
          .observe(details, { subtree: true, childList: true, characterData: true });
        const seen = new MutationObserver(() => {
          if (t0 === null) return;
          last = performance.now();
          if (filled === null && detailsChanged && title.textContent.includes(id)) {
            filled = last;
            setTimeout(() => { seen.disconnect(); resolve([filled - t0, last - t0]); }, 2000);
          }
        });
        seen.observe(panel, { subtree: true, childList: true, characterData: true,
                              attributes: true });
      });
    }, target);
    await page.mouse.click(point.x, point.y);
    [r.click_ms, r.settle_ms] = (await page.evaluate(() => window.__kwClick)).map(Math.round);
    await page.locator('.kw-title').first().filter({ hasText: target }).waitFor();
    // Apply a rename → the renamed box drawn.
    await page.locator('.kw-action button', { hasText: 'rename' }).first().click();
    await page.locator('.kw-new-name input').first().fill(target + '_x');
    // Timed in the page too: from the mouse press on Apply to the first frame with the
    // renamed box (not Playwright's own checks before it clicks).
    await page.evaluate((id) => {
      const cy = document.querySelector('.kw-graph')._cyreg.cy;
      window.__kwApply = new Promise((resolve) => {
        let t0 = null;
        document.addEventListener('mousedown', (e) => {
          if (e.target.closest && e.target.closest('.kw-apply')) t0 = performance.now();
        }, { capture: true });
        const frame = () => {
          if (t0 !== null && !cy.getElementById(id).empty()) resolve(performance.now() - t0);
          else requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
      });
    }, target + '_x');
    await page.locator('.kw-apply button, button.kw-apply').first().click();
    r.apply_s = (await page.evaluate(() => window.__kwApply)) / 1000;
    await page.screenshot({ path: `${cfg.shots}/${name}-lab.png` });
  } catch (e) {
    r.error = String(e).split('\n')[0];
    await page.screenshot({ path: `${cfg.shots}/${name}-lab-error.png` }).catch(() => {});
  }
  await page.close();
  out[name] = r;
}

for (const [name, url] of Object.entries(cfg.netron)) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  try {
    await page.goto(url);
    const accept = page.locator('#message-button');
    await accept.waitFor({ state: 'visible', timeout: 60_000 });
    const t0 = Date.now();
    await accept.click();
    await page.waitForSelector('#canvas g.node, svg g.node', { timeout: 300_000 });
    out[name] = { ...(out[name] || {}), netron_s: (Date.now() - t0) / 1000 };
    await page.screenshot({ path: `${cfg.shots}/${name}-netron.png` });
  } catch (e) {
    out[name] = { ...(out[name] || {}), netron_error: String(e).split('\n')[0] };
  }
  await page.close();
}
await browser.close();
console.log(JSON.stringify(out));

// The view's speed in a real browser, against Netron on the same model, in the same run.
// Started by bench_view.py, which starts JupyterLab and one Netron server per model and passes
// them in BENCH (JSON). Prints one JSON line of results per model.
const { chromium } = require('playwright-core');

const bench = JSON.parse(process.env.BENCH);
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

// IOPub messages that reach the page from the kernel (JupyterLab's kernel websocket).
function countIopub(page) {
  const counter = { n: 0 };
  page.on('websocket', (ws) => {
    if (!ws.url().includes('/channels')) return;
    ws.on('framereceived', (frame) => {
      const text = typeof frame.payload === 'string' ? frame.payload
        : frame.payload.toString('latin1');
      if (text.includes('iopub')) counter.n += 1;
    });
  });
  return counter;
}

const cyState = (page) => page.evaluate(() => {
  const el = document.querySelector('.kw-graph');
  const cy = el && el._cyreg && el._cyreg.cy;
  if (!cy || cy.nodes().length === 0) return { nodes: 0, up: -1 };
  const up = cy.edges().filter((e) => e.target().position('y') <= e.source().position('y')).length;
  return { nodes: cy.nodes().length, up };
});

async function drawn(page, since) {
  for (;;) {
    const s = await cyState(page);
    if (s.nodes > 0 && s.up === 0) return { ms: Date.now() - since, nodes: s.nodes };
    if (Date.now() - since > 600_000) return { ms: null, nodes: s.nodes };
    await page.waitForTimeout(20);
  }
}

async function netron(browser, url) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  await page.goto(url);
  const accept = page.getByRole('button', { name: 'Accept' });
  await accept.waitFor({ timeout: 60_000 });
  const t0 = Date.now();
  await accept.click();
  await page.locator('svg g.node').first().waitFor({ timeout: 600_000 });
  const ms = Date.now() - t0;
  await page.close();
  return ms;
}

async function widget(browser, model) {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  const iopub = countIopub(page);
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text().slice(0, 200)); });
  await page.goto(`${bench.lab}/lab/workspaces/bench-${model.name}/tree/${model.notebook}` +
                  `?reset&token=${bench.token}`);
  await page.getByText('Python 3 (ipykernel) | Idle').first().waitFor({ timeout: 120_000 });
  const cells = page.locator('.jp-Notebook .jp-Cell');
  // Cell 1 builds the model (not timed); cell 2 opens the editor.
  await cells.nth(0).locator('.jp-InputArea-editor').click();
  await page.keyboard.press('Shift+Enter');
  await page.locator('.jp-InputPrompt', { hasText: '[1]' }).first()
    .waitFor({ timeout: 600_000 });
  await page.waitForTimeout(500);
  iopub.n = 0;
  const t0 = Date.now();
  await page.keyboard.press('Shift+Enter');
  const open = await drawn(page, t0);
  await page.locator('.jp-InputPrompt', { hasText: '[2]' }).first().waitFor({ timeout: 600_000 });
  await page.waitForTimeout(1000);
  const openMessages = iopub.n;

  // Click a layer: the panel names it.
  iopub.n = 0;
  await page.locator('.kw-graph').first().scrollIntoViewIfNeeded();
  const target = await page.evaluate((id) => {
    const el = document.querySelector('.kw-graph');
    const cy = el._cyreg.cy;
    let node = cy.getElementById(id);
    if (node.empty() || !node.visible()) node = cy.nodes('.layer').filter((n) => n.visible())[0];
    cy.center(node);
    const p = node.renderedPosition();
    const box = el.getBoundingClientRect();
    return { id: node.id(), x: box.left + p.x, y: box.top + p.y };
  }, model.click);
  await page.waitForTimeout(300);
  const t1 = Date.now();
  await page.mouse.click(target.x, target.y);
  await page.locator('.kw-title', { hasText: target.id.split('/').pop() }).first()
    .waitFor({ timeout: 60_000 });
  const click = Date.now() - t1;
  await page.waitForTimeout(500);
  const clickMessages = iopub.n;

  // Apply a rename: the refreshed view shows the new name.
  await page.locator('.kw-action button', { hasText: 'rename' }).first().click();
  const box = page.locator('.kw-new-name input').first();
  const newName = `${target.id.split('/').pop().split('#')[0]}_renamed`;
  await box.fill(newName);
  iopub.n = 0;
  const t2 = Date.now();
  await page.locator('.kw-apply button, button.kw-apply').first().click();
  await page.locator('.kw-status', { hasText: newName }).first().waitFor({ timeout: 600_000 });
  const apply = Date.now() - t2;
  await page.waitForTimeout(1000);
  const applyMessages = iopub.n;

  // The rebuild alone, in the kernel (cell 3 prints it).
  await cells.nth(2).locator('.jp-InputArea-editor').click();
  await page.keyboard.press('Shift+Enter');
  const out = page.locator('.jp-OutputArea-output', { hasText: 'rebuild_s=' }).first();
  await out.waitFor({ timeout: 600_000 });
  const rebuild = parseFloat((await out.innerText()).split('rebuild_s=')[1]);
  await page.screenshot({ path: `${bench.shots}/bench-${model.name}.png` });
  await page.close();
  return { open_ms: open.ms, boxes: open.nodes, open_messages: openMessages, click_ms: click,
           click_messages: clickMessages, apply_ms: apply, apply_messages: applyMessages,
           rebuild_s: rebuild, console_errors: errors.length, first_errors: errors.slice(0, 3) };
}

(async () => {
  const browser = await chromium.launch({ executablePath: bench.chromium, args });
  for (const model of bench.models) {
    const result = { model: model.name, netron_ms: await netron(browser, model.netron) };
    Object.assign(result, await widget(browser, model));
    console.log(JSON.stringify(result));
  }
  await browser.close();
})();

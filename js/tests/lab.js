// What every browser test does in JupyterLab: open a notebook, run it, find and click the
// layers cytoscape drew, and fail on a red line in the browser console.
const base = require('@playwright/test');
const path = require('path');

const { expect } = base;
const token = process.env.JUPYTER_TOKEN || '';
const shots = path.join(__dirname, '..', '..', 'artifacts', 'e2e');

// Every test fails on a red line in the browser console (a widget error, "No such comm", a
// front-end exception).
const test = base.test.extend({
  consoleIgnore: [null, { option: true }], // a RegExp of lines a test allows (another app's)
  page: async ({ page, consoleIgnore }, use) => {
    const errors = [];
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const where = msg.location();
      errors.push(`${msg.text()} (${where.url.split('/').pop()}:${where.lineNumber})`);
    });
    page.on('pageerror', (err) => errors.push(`${err} ${err.stack || ''}`));
    await use(page);
    const ignore = [/favicon/, /Failed to load resource.*404/, /api\/translations/];
    if (consoleIgnore) ignore.push(consoleIgnore);
    expect(errors.filter((e) => !ignore.some((re) => re.test(e))),
           'red lines in the browser console').toEqual([]);
  },
});

async function openAndRun(page, notebook) {
  // A workspace of its own, so that no tab of another test is open behind this one.
  const workspace = notebook.replace('.ipynb', '');
  await page.goto(`/lab/workspaces/${workspace}/tree/artifacts/e2e/notebooks/${notebook}` +
                  `?reset&token=${token}`);
  await page.locator('.jp-Notebook').first().waitFor({ timeout: 120_000 });
  // Wait for the kernel to be ready before running: the status bar names it and says Idle
  // (the toolbar's indicator can say idle while there is no kernel yet).
  await expect(page.getByText('Python 3 (ipykernel) | Idle').first())
    .toBeVisible({ timeout: 120_000 });
  return runAll(page);
}

// Run every cell from the Run menu (JupyterLab's and Notebook 7's) and wait for the graph.
async function runAll(page) {
  await page.getByRole('menuitem', { name: 'Run', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Run All Cells', exact: true }).click();
  return drawn(page);
}

// The graph is drawn and laid out top to bottom: every edge goes down (a layout run before the
// edges arrived puts all nodes in one row; the widget lays out again once they are all there).
async function drawn(page) {
  const graph = page.locator('.kw-graph').first();
  await graph.waitFor({ timeout: 180_000 });
  await graph.scrollIntoViewIfNeeded();
  await expect.poll(() => edgesGoingUpOrFlat(page), { timeout: 60_000 }).toBe(0);
  await page.waitForTimeout(500);
  await openSummary(page);
  await graph.scrollIntoViewIfNeeded();
  return graph;
}

// Open the summary box under the graph, as a person would to read model.summary() (the tests
// read the layers from it); it stays open and follows every edit.
async function openSummary(page) {
  const summary = page.locator('.kw-summary').first();
  if (await summary.locator('.jupyter-widget-Accordion-child-active').count() === 0) {
    await summary.locator('.jupyter-widget-Collapse-header').first().click();
  }
  await expect(summary).toContainText('Total params', { timeout: 60_000 });
}

function edgesGoingUpOrFlat(page) {
  return page.evaluate(() => {
    const el = document.querySelector('.kw-graph');
    const cy = el && el._cyreg && el._cyreg.cy;
    if (!cy || cy.edges().length === 0) return -1;
    return cy.edges().filter((e) => e.target().position('y') <= e.source().position('y')).length;
  });
}

function nodeIds(page) {
  return page.evaluate(() => {
    const el = document.querySelector('.kw-graph');
    const cy = el && el._cyreg && el._cyreg.cy;
    return cy ? cy.nodes().map((n) => n.id()) : [];
  });
}

function nodeLabels(page) {
  return page.evaluate(() => {
    const cy = document.querySelector('.kw-graph')._cyreg.cy;
    return Object.fromEntries(cy.nodes().map((n) => [n.id(), n.data('label')]));
  });
}

// Where a node is drawn, in page coordinates: the cytoscape instance tells where inside its
// canvas; the canvas tells where it is on the page. With `pan`, a node outside the visible
// canvas is first brought to its middle, as a person would drag the canvas.
async function clickNode(page, id, { pan = false } = {}) {
  await page.locator('.kw-graph').first().scrollIntoViewIfNeeded();
  const point = await page.evaluate(([nodeId, panTo]) => {
    const el = document.querySelector('.kw-graph');
    const cy = el._cyreg.cy;
    const node = cy.getElementById(nodeId);
    if (node.empty()) return null;
    let p = node.renderedPosition();
    if (panTo && (p.x < 0 || p.y < 0 || p.x > cy.width() || p.y > cy.height())) {
      cy.center(node);
      p = node.renderedPosition();
    }
    const box = el.getBoundingClientRect();
    const inside = p.x >= 0 && p.y >= 0 && p.x <= box.width && p.y <= box.height;
    return { x: box.left + p.x, y: box.top + p.y, inside };
  }, [id, pan]);
  expect(point, `node ${id} is drawn`).not.toBeNull();
  expect(point.inside, `node ${id} is inside the visible canvas`).toBe(true);
  await page.mouse.click(point.x, point.y);
}

async function field(page, name) {
  return page.locator(`.kw-field-${name} input`).first();
}

module.exports = { test, expect, token, shots, openAndRun, runAll, drawn, openSummary,
                   edgesGoingUpOrFlat, nodeIds, nodeLabels, clickNode, field };

// The editor in a real JupyterLab: open a notebook, run it, click a layer on the canvas like a
// person, pick a class, fill the fields, press Apply, and check that the summary and the graph
// changed. Screenshots go to artifacts/e2e/.
const fs = require('fs');
const path = require('path');
const { test, expect, token, shots, openAndRun, edgesGoingUpOrFlat, nodeIds, nodeLabels,
        clickNode, field } = require('./lab');

test('click a Dense layer, widen it and change its activation', async ({ page }) => {
  await openAndRun(page, 'mlp.ipynb');
  const summary = page.locator('.kw-summary').first();
  await expect(summary).toContainText('d2 (Dense)');
  const before = await summary.textContent();
  expect(before).toContain('(None, 64)');
  await page.screenshot({ path: path.join(shots, 'mlp-1-opened.png'), fullPage: false });

  await clickNode(page, 'd2');
  await expect(page.locator('.kw-title').first()).toContainText('d2');
  await expect(page.locator('.kw-details').first()).toContainText('(None, 64)');
  // The picker shows the clicked layer's class, the fields its config.
  await expect(page.locator('.kw-picker select').first()).toHaveValue('Dense · dense');
  await expect(await field(page, 'units')).toHaveValue('64');

  await (await field(page, 'units')).fill('128');
  await page.locator('.kw-field-activation select').first().selectOption('sigmoid');
  await page.locator('.kw-apply button, button.kw-apply').first().click();

  await expect(summary).toContainText('(None, 128)');
  await expect(page.locator('.kw-status').first()).toContainText('reinitialized');
  await expect(page.locator('.kw-status').first()).toContainText('head');
  const labels = await nodeLabels(page);
  expect(labels['d2']).toContain('(None, 128)');
  // The Code view: the changed line highlighted, beside the report (which stays).
  await expect(page.locator('.kw-code-view .kw-changed').first())
    .toHaveText('x = layers.Dense(128, activation="sigmoid", name="d2")(x)');
  expect(labels['head']).toContain('(None, 10)');
  expect(await summary.textContent()).not.toEqual(before);
  await page.screenshot({ path: path.join(shots, 'mlp-2-applied.png'), fullPage: false });

  // A value that is not a value: the panel says so, nothing changes.
  await clickNode(page, 'd1');
  await expect(page.locator('.kw-title').first()).toContainText('d1');
  await (await field(page, 'units')).fill('lots of');
  await page.locator('.kw-apply button, button.kw-apply').first().click();
  await expect(page.locator('.kw-status').first()).toContainText('is not a value');
  await expect(summary).toContainText('(None, 128)');
  expect((await nodeLabels(page))['d1']).toContain('(None, 64)');
  await page.screenshot({ path: path.join(shots, 'mlp-3-error.png'), fullPage: false });
});

test('replace the Conv2D before a MaxPooling2D by an AveragePooling2D', async ({ page }) => {
  await openAndRun(page, 'cnn.ipynb');
  const summary = page.locator('.kw-summary').first();
  await expect(summary).toContainText('conv2 (Conv2D)');
  const idsBefore = await nodeIds(page);
  expect(idsBefore).toContain('conv2');

  await clickNode(page, 'conv2');
  await expect(page.locator('.kw-title').first()).toContainText('conv2');
  await page.locator('.kw-search input').first().fill('AveragePooling');
  await page.locator('.kw-picker select').first().selectOption({ label: 'AveragePooling2D · pooling' });
  await expect(await field(page, 'pool_size')).toBeVisible();
  await (await field(page, 'pool_size')).fill('2');
  await page.locator('.kw-apply button, button.kw-apply').first().click();

  await expect(summary).toContainText('AveragePooling2D');
  await expect(summary).not.toContainText('conv2 (Conv2D)');
  const status = page.locator('.kw-status').first();
  await expect(status).toContainText('added: average_pooling2d');
  await expect(status).toContainText('dense: kernel (72, 10) is new');
  const ids = await nodeIds(page);
  expect(ids).toContain('average_pooling2d');
  expect(ids).not.toContain('conv2');
  const classes = await page.evaluate(() => {
    const cy = document.querySelector('.kw-graph')._cyreg.cy;
    return Object.fromEntries(cy.nodes().map((n) => [n.id(), n.classes().join(' ')]));
  });
  expect(classes['average_pooling2d']).toContain('added');
  expect(classes['dense']).toContain('reinitialized');
  await page.screenshot({ path: path.join(shots, 'cnn-applied.png'), fullPage: false });

  // Undo brings the convolution back.
  await page.locator('.kw-undo button, button.kw-undo').first().click();
  await expect(summary).toContainText('conv2 (Conv2D)');
  expect(await nodeIds(page)).toContain('conv2');
});

test('edit a layer inside a nested model that is called twice', async ({ page }) => {
  await openAndRun(page, 'nested.ipynb');
  const summary = page.locator('.kw-summary').first();
  await expect(summary).toContainText('enc (Functional)');
  // Nested models open closed, as one box each; Expand all opens them in place.
  expect(await nodeIds(page)).not.toContain('enc/hidden#0');
  await page.locator('.kw-expand-all button, button.kw-expand-all').first().click();
  await expect.poll(() => nodeIds(page)).toContain('enc/hidden#1');
  await expect.poll(() => edgesGoingUpOrFlat(page), { timeout: 30_000 }).toBe(0);
  await page.waitForTimeout(300);
  const ids = await nodeIds(page);
  for (const id of ['enc#0', 'enc#1', 'enc/hidden#0', 'enc/hidden#1', 'diff', 'score']) {
    expect(ids).toContain(id);
  }
  // Members are drawn inside their nested model's box.
  const parents = await page.evaluate(() => {
    const cy = document.querySelector('.kw-graph')._cyreg.cy;
    return Object.fromEntries(cy.nodes().map((n) => [n.id(), n.parent().id() || null]));
  });
  expect(parents['enc/hidden#0']).toBe('enc#0');
  expect(parents['enc/hidden#1']).toBe('enc#1');
  await page.screenshot({ path: path.join(shots, 'nested-1-opened.png'), fullPage: false });

  await clickNode(page, 'enc/hidden#1');
  await expect(page.locator('.kw-title').first()).toContainText('enc/hidden');
  await expect(page.locator('.kw-details').first()).toContainText('enc/hidden#0, enc/hidden#1');
  await (await field(page, 'units')).fill('12');
  await page.locator('.kw-apply button, button.kw-apply').first().click();
  await expect(page.locator('.kw-status').first()).toContainText('enc/hidden: kernel (8, 12)');
  const labels = await nodeLabels(page);
  expect(labels['enc/hidden#0']).toContain('(None, 12)');
  expect(labels['enc/hidden#1']).toContain('(None, 12)');
  expect(labels['enc/code#0']).toContain('(None, 4)');
  // 8*12+12 + 12*4+4 = 160 parameters in the nested model now.
  await expect(summary).toContainText('160');
  await page.screenshot({ path: path.join(shots, 'nested-2-applied.png'), fullPage: false });
});

test('go to a layer far down a big graph', async ({ page }) => {
  await openAndRun(page, 'big.ipynb');
  const graph = page.locator('.kw-graph').first();
  const inView = (id) => page.evaluate((nodeId) => {
    const el = document.querySelector('.kw-graph');
    const node = el._cyreg.cy.getElementById(nodeId);
    if (node.empty()) return null;
    const p = node.renderedPosition();
    return p.x >= 0 && p.y >= 0 && p.x <= el.clientWidth && p.y <= el.clientHeight;
  }, id);
  // The layer sits in a closed block: not drawn until go-to-layer opens its block.
  expect(await inView('block_11_add')).toBe(null);
  expect(await nodeIds(page)).toContain('blk:block_11');
  await page.locator('.kw-find input').first().fill('block_11_add');
  await page.locator('.kw-find input').first().press('Enter');
  await expect(page.locator('.kw-title').first()).toContainText('block_11_add');
  await expect.poll(() => inView('block_11_add'), { timeout: 10_000 }).toBe(true);
  await graph.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, 'big-go-to-layer.png'), fullPage: false });
  // The notebook scrolls by itself (as when a cell runs), and a click right after lands.
  await page.evaluate(() => {
    const scroller = document.querySelector('.jp-WindowedPanel-outer') ||
      document.querySelector('.jp-Notebook');
    scroller.scrollTop = scroller.scrollHeight;
    scroller.scrollTop = 0;
  });
  await clickNode(page, 'block_11_project');
  await expect(page.locator('.kw-title').first()).toContainText('block_11_project');
});

test('DenseNet201: open a block, click a layer in it, edit it, see it in its block', async ({ page }) => {
  await openAndRun(page, 'densenet.ipynb');
  const ids = await nodeIds(page);
  expect(ids.length).toBeLessThanOrEqual(150);
  expect(ids).toContain('blk:conv3_block2');
  expect(ids).not.toContain('conv3_block2_1_conv');
  // The graph opens at its top, inside the canvas (drawn before the page has given the canvas
  // its final width, it must follow it).
  await expect.poll(() => page.evaluate(() => {
    const cy = document.querySelector('.kw-graph')._cyreg.cy;
    const box = cy.getElementById('input_layer').renderedBoundingBox();
    return [box.x1 >= 0 && box.x2 <= cy.width(), box.y1 >= 0 && box.y2 <= cy.height(),
            cy.width() === cy.container().clientWidth];
  })).toEqual([true, true, true]);
  await page.screenshot({ path: path.join(shots, 'densenet-1-opened.png'), fullPage: false });
  // Pan to the block, as a person would drag the canvas.
  await page.evaluate(() => {
    const cy = document.querySelector('.kw-graph')._cyreg.cy;
    cy.center(cy.getElementById('blk:conv3_block2'));
  });
  await clickNode(page, 'blk:conv3_block2');
  await expect.poll(() => nodeIds(page)).toContain('conv3_block2_1_conv');
  await page.waitForTimeout(600); // the layout settles
  await clickNode(page, 'conv3_block2_1_conv');
  await expect(page.locator('.kw-title').first()).toContainText('conv3_block2_1_conv');
  await page.locator('.kw-action button', { hasText: 'rename' }).first().click();
  await page.locator('.kw-new-name input').first().fill('conv3_block2_first');
  await page.locator('.kw-apply button, button.kw-apply').first().click();
  await expect(page.locator('.kw-status').first()).toContainText('conv3_block2_first');
  await expect.poll(() => nodeIds(page), { timeout: 60_000 }).toContain('conv3_block2_first');
  const parent = await page.evaluate(() => {
    const cy = document.querySelector('.kw-graph')._cyreg.cy;
    return cy.getElementById('conv3_block2_first').parent().id();
  });
  expect(parent).toBe('blk:conv3_block2');
  await expect(page.locator('.kw-summary').first()).toContainText('conv3_block2_first');
  await page.screenshot({ path: path.join(shots, 'densenet-2-renamed.png'), fullPage: false });
  // A new input shape: every one of the 709 layers reads new shapes; the preview (a dry run)
  // says what Apply would give before anything is built.
  await page.evaluate(() => {
    const cy = document.querySelector('.kw-graph')._cyreg.cy;
    cy.center(cy.getElementById('input_layer'));
  });
  await clickNode(page, 'input_layer');
  await expect(page.locator('.kw-title').first()).toContainText('input_layer');
  await page.locator('.kw-action button', { hasText: 'set input shape' }).first().click();
  const shape = page.locator('.kw-input-shape input').first();
  const preview = page.locator('.kw-preview-area').first();
  for (const size of [192, 160]) {
    await shape.fill(`(${size}, ${size}, 3)`);
    // Timed in the page, from the key press to the preview's change (Playwright's own waits
    // poll at up to a second).
    const shown = page.evaluate((text) => new Promise((resolve) => {
      const input = document.querySelector('.kw-input-shape input');
      const area = document.querySelector('.kw-preview-area');
      let t0 = null;
      setTimeout(() => resolve(NaN), 30_000); // no preview: the check below says so
      input.addEventListener('keydown', () => { t0 = performance.now(); }, { once: true });
      new MutationObserver((_, observer) => {
        if (t0 !== null && area.textContent.includes(text)) {
          observer.disconnect();
          resolve(performance.now() - t0);
        }
      }).observe(area, { childList: true, subtree: true, characterData: true });
    }), `(None, ${size}, ${size}, 3)`);
    await shape.press('Enter');
    const ms = await shown;
    console.log(`DenseNet201: input shape ${size} typed -> preview in ${Math.round(ms)} ms`);
    await expect(preview).toContainText(`(None, ${size}, ${size}, 3)`);
  }
  await expect(preview).toContainText('709 kept');
  await page.screenshot({ path: path.join(shots, 'densenet-3-input-shape-preview.png'),
                          fullPage: false });
});

test('ResNet50: Applies in a row, the panel always matches the kernel', async ({ page }) => {
  // The 30 (each Apply rebuilds ResNet50: about 9 s on 2 busy cores, 5 min in all).
  const rounds = Number(process.env.E2E_APPLIES || 30);
  test.setTimeout(120_000 + rounds * 20_000);
  await openAndRun(page, 'resnet.ipynb');
  let name = 'conv2_block1_1_conv';
  await page.locator('.kw-find input').first().fill(name);
  await page.locator('.kw-find input').first().press('Enter');
  await expect(page.locator('.kw-title').first()).toContainText(name);
  await page.locator('.kw-action button', { hasText: 'rename' }).first().click();
  for (let k = 0; k < rounds; k++) {
    const next = `c2b1_${k}`;
    await page.locator('.kw-new-name input').first().fill(next);
    await page.locator('.kw-apply button, button.kw-apply').first().click();
    // The panel names the layer the edit went to, and the report and summary say the same.
    await expect(page.locator('.kw-title').first()).toContainText(next, { timeout: 60_000 });
    await expect(page.locator('.kw-status').first()).toContainText(next);
    await expect(page.locator('.kw-summary').first()).toContainText(next);
    await expect(page.locator('.kw-summary').first()).not.toContainText(`${name} (Conv2D)`);
    await expect.poll(() => nodeIds(page)).toContain(next);
    name = next;
  }
  await page.screenshot({ path: path.join(shots, 'resnet-applies.png'), fullPage: false });
});

test('saved with its widget state, the notebook shows the graph again without its kernel', async ({ page }) => {
  await openAndRun(page, 'cnn.ipynb');
  // An edit first: what is saved is the graph as it is now.
  await page.locator('.kw-find input').first().fill('conv2');
  await page.locator('.kw-find input').first().press('Enter');
  await expect(page.locator('.kw-title').first()).toContainText('conv2');
  await page.locator('.kw-action button', { hasText: 'rename' }).first().click();
  await page.locator('.kw-new-name input').first().fill('conv2_saved');
  await page.locator('.kw-apply button, button.kw-apply').first().click();
  await expect.poll(() => nodeIds(page)).toContain('conv2_saved');
  const before = await page.evaluate(() => {
    const cy = document.querySelector('.kw-graph')._cyreg.cy;
    return { nodes: cy.nodes().map((n) => n.id()).sort(), edges: cy.edges().length };
  });
  await page.waitForTimeout(1000); // the front end keeps its copy a moment after a change
  await page.getByRole('menuitem', { name: 'Settings', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Save Widget State Automatically' }).click();
  await page.getByRole('menuitem', { name: 'File', exact: true }).click();
  await page.locator('li[data-command="docmanager:save"]').click();
  const file = path.join(shots, 'notebooks', 'cnn.ipynb');
  const metadata = () => { // '' while the server is still writing the file
    try { return JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8')).metadata); } catch { return ''; }
  };
  await expect.poll(metadata).toContain('conv2_saved');
  await page.getByRole('menuitem', { name: 'Kernel', exact: true }).click();
  await page.getByRole('menuitem', { name: 'Shut Down Kernel', exact: true }).click();
  await expect(page.getByText('No Kernel').first()).toBeVisible();
  // Opened again (a new page, another workspace): the cells do not run; the graph is drawn
  // from the saved state.
  await page.goto(`/lab/workspaces/reopened/tree/artifacts/e2e/notebooks/cnn.ipynb?reset&token=${token}`);
  const graph = page.locator('.kw-graph').first();
  await graph.waitFor({ timeout: 120_000 });
  await expect.poll(() => nodeIds(page).then((ids) => ids.sort())).toEqual(before.nodes);
  await expect.poll(() => edgesGoingUpOrFlat(page)).toBe(0);
  const edges = await page.evaluate(() => document.querySelector('.kw-graph')._cyreg.cy.edges().length);
  expect(edges).toBe(before.edges);
  await graph.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, 'reopened-without-kernel.png'), fullPage: false });
});

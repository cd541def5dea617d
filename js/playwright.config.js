// Browser tests against a JupyterLab that run-e2e.sh starts on a loopback port.
// The browser is Debian's chromium (nothing is downloaded).
const { defineConfig } = require('@playwright/test');

module.exports = defineConfig({
  testDir: './tests',
  timeout: 240_000,
  expect: { timeout: 60_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: '../artifacts/e2e/results',
  use: {
    baseURL: process.env.JUPYTER_URL || 'http://127.0.0.1:8899',
    viewport: { width: 1500, height: 1000 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run',
      ],
    },
  },
});

/**
 * The queue dashboard and the API in a real headless browser (Debian's chromium driven by playwright-core),
 * with a screenshot of the dashboard saved as a test artifact (test-results/artifacts/).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { withTestRedis } from '../../../test/harness/redis';
import { repoRoot } from '../../../test/support/paths';
import { sample } from '../../../test/support/stack';
import { eventually, JSON_HEADERS, startGatewayStack, type GatewayStack } from './helpers';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) =>
  fs.existsSync(p),
);
const ARTIFACTS = path.join(repoRoot, 'test-results', 'artifacts');
const redis = withTestRedis();

if (!CHROMIUM) {
  console.warn(
    'SKIPPED browser test: no chromium found (Debian: apt-get install chromium; .ci/run installs it when it can)',
  );
}

(CHROMIUM ? describe : describe.skip)('dashboard and API in headless chromium', () => {
  let g: GatewayStack;
  let browser: Browser;
  let token: string;

  beforeAll(async () => {
    g = await startGatewayStack({ redisUrl: redis().url, workers: 1 });
    token = await g.signer.token();
    const res = await g.call('/orders', {
      method: 'POST',
      headers: JSON_HEADERS,
      body: fs.readFileSync(sample('order-sternum')),
    });
    expect(res.status).toBe(202);
    await g.stack.waitIdle();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await g?.stop();
  });

  it('renders the queue dashboard with the delivery queues, and saves a screenshot', async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${token}` } });
    const page = await context.newPage();
    const response = await page.goto(`${g.gateway.url}/admin/queues`);
    expect(response?.status()).toBe(200);
    await page.getByText('order-deliveries').first().waitFor({ timeout: 20_000 });
    await expect(page.getByText('result-deliveries').first().isVisible()).resolves.toBe(true);
    // Open the order queue: its completed job (the order delivered above) is listed.
    await page.getByText('order-deliveries').first().click();
    await page
      .getByText(/completed/i)
      .first()
      .waitFor({ timeout: 20_000 });
    await page.waitForLoadState('networkidle');
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'dashboard.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(fs.statSync(file).size).toBeGreaterThan(5_000);
    await context.close();
  }, 60_000);

  it('answers the API (tracking, OpenAPI) in the browser, and refuses it without a token', async () => {
    const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${token}` } });
    const page = await context.newPage();
    await eventually(async () => (await g.call('/orders/ORD-26-000177')).status === 200, 20_000, 'order tracked');
    const tracking = await page.goto(`${g.gateway.url}/orders/ORD-26-000177`);
    expect(tracking?.status()).toBe(200);
    const body = JSON.parse(await page.locator('body').innerText());
    expect(body.updates[0]).toMatchObject({ kind: 'order', outcome: 'delivered' });
    const openapi = await page.goto(`${g.gateway.url}/openapi.json`);
    expect(openapi).not.toBeNull();
    expect((await openapi!.json()).openapi).toMatch(/^3\.1/);
    await context.close();

    const anonymous = await browser.newContext();
    const refused = await (await anonymous.newPage()).goto(`${g.gateway.url}/admin/queues`);
    expect(refused?.status()).toBe(401);
    await anonymous.close();
  }, 60_000);
});

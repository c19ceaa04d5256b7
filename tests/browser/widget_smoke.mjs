// The demo page's widget in a real browser: it connects, a customer asks for a human, and
// the answer (the hand-off notice) shows in the panel. Env: TANDEM_URL.
import { scenario, screenshot, env } from './lib.mjs';

await scenario('widget_smoke', async (b, track) => {
  const ctx = await b.person();
  const page = track(await ctx.newPage(), 'widget');
  await page.goto(env('TANDEM_URL') + '/');
  await page.locator('.tandem-conn', { hasText: 'Online' }).waitFor();
  await page.fill('.tandem-input', 'I want to talk to a human');
  await page.press('.tandem-input', 'Enter');
  await page.locator('.tandem-row.tandem-customer .tandem-meta', { hasText: 'Sent' }).waitFor();
  await page.locator('.tandem-row:not(.tandem-customer) .tandem-bubble').first().waitFor();
  await screenshot(page, 'widget-smoke');
});

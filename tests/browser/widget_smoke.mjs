// The demo page's widget in a real browser: it connects, a customer asks for a human, and
// the answer (the hand-off notice) shows in the panel; then the customer attaches an image,
// which is uploaded, shown in their bubble and acknowledged. Env: TANDEM_URL.
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

  // Attach an image with a caption: uploaded, shown, acknowledged.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
    'base64',
  );
  await page.fill('.tandem-input', 'the broken part');
  await page.setInputFiles('.tandem-form input[type=file]', { name: 'part.png', mimeType: 'image/png', buffer: png });
  const sent = page.locator('.tandem-row.tandem-customer', { hasText: 'the broken part' });
  await sent.locator('.tandem-bubble img').waitFor();
  await sent.locator('.tandem-meta', { hasText: 'Sent' }).waitFor();
  await screenshot(page, 'widget-upload');
});

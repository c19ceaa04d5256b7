// Acceptance 2: agent B's reply to a handoff agent A accepted is refused (with a clear
// message, nothing reaches the customer) until A transfers it to B; then B's goes through.
// Env: TANDEM_URL, AGENT_A_LINK ("amy", Amy), AGENT_B_LINK ("bea", Bea).
import { scenario, screenshot, env, check } from './lib.mjs';

async function signIn(b, track, link, label, name) {
  const page = track(await (await b.person()).newPage(), label);
  await page.goto(link);
  await page.locator('#who', { hasText: `signed in as ${name}` }).waitFor();
  await page.locator('#conn', { hasText: 'live' }).waitFor();
  return page;
}

await scenario('owner_transfer', async (b, track) => {
  const base = env('TANDEM_URL');
  const amy = await signIn(b, track, env('AGENT_A_LINK'), 'console-amy', 'Amy');
  const bea = await signIn(b, track, env('AGENT_B_LINK'), 'console-bea', 'Bea');

  const customer = track(await (await b.person()).newPage(), 'widget');
  await customer.goto(base + '/');
  await customer.locator('.tandem-conn', { hasText: 'Online' }).waitFor();
  await customer.fill('.tandem-input', 'Can I speak to a real person?');
  await customer.press('.tandem-input', 'Enter');

  await amy.locator('#brief', { hasText: 'human_request' }).waitFor();
  await amy.click('#accept');
  await amy.locator('#accept', { hasText: 'Accepted' }).waitFor();
  await bea.locator('#brief', { hasText: 'Amy' }).waitFor();

  // Bea is refused, clearly, and the customer gets nothing.
  await bea.fill('#reply', 'Bea jumping in');
  await bea.click('#send');
  await bea.locator('#status.err', { hasText: 'Amy is handling this conversation' }).waitFor();
  await screenshot(bea, 'console-reply-refused');

  // Amy transfers to Bea (the picker lists the agent accounts).
  await amy.selectOption('#transfer-to', 'agent:bea');
  await amy.click('#transfer');
  await amy.locator('#status', { hasText: 'done' }).waitFor();
  await bea.locator('#brief', { hasText: 'Owner' }).locator('text=Bea').waitFor();

  await bea.fill('#reply', 'Bea here, I have your case now');
  await bea.click('#send');
  await bea.locator('#status', { hasText: 'done' }).waitFor();
  await customer.locator('.tandem-row.tandem-agent', { hasText: 'Bea here' }).waitFor();
  const all = await customer.locator('.tandem-row.tandem-agent').allTextContents();
  check(!all.some((t) => t.includes('Bea jumping in')), `the refused reply never reached the customer: ${all}`);
  await screenshot(bea, 'console-after-transfer');
  await screenshot(customer, 'widget-after-transfer');
});

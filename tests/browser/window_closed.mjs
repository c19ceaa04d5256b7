// Acceptance 4: a WhatsApp customer whose 24-hour window has closed (the Rust test made the
// handoff with the fake Graph API); the agent's reply shows "undeliverable: window closed".
// Env: TANDEM_URL, AGENT_A_LINK ("amy", Amy).
import { scenario, screenshot, env } from './lib.mjs';

await scenario('window_closed', async (b, track) => {
  const amy = track(await (await b.person()).newPage(), 'console-amy');
  await amy.goto(env('AGENT_A_LINK'));
  await amy.locator('#conn', { hasText: 'live' }).waitFor();
  await amy.locator('#brief', { hasText: 'closed' }).waitFor();
  await amy.click('#accept');
  await amy.locator('#accept', { hasText: 'Accepted' }).waitFor();
  await amy.fill('#reply', 'Sorry for the wait, here is your refund');
  await amy.click('#send');
  const line = amy.locator('#transcript .line.agent', { hasText: 'here is your refund' });
  await line.locator('.delivery', { hasText: 'undeliverable: window closed' }).waitFor();
  await screenshot(amy, 'console-window-closed');
});

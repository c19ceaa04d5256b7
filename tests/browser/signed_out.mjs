// Acceptance 6: without a session the console's pages lead to the sign-in page and its
// actions are refused (401); a wrong password is refused; the right one signs in.
// Env: TANDEM_URL, AGENT_LOGIN, AGENT_PASSWORD.
import { scenario, screenshot, env, check } from './lib.mjs';

await scenario('signed_out', async (b, track) => {
  const base = env('TANDEM_URL');
  const page = track(await (await b.person()).newPage(), 'signed-out');
  await page.goto(base + '/console');
  await page.waitForURL(base + '/console/login');
  await page.locator('form#login').waitFor();
  const statuses = await page.evaluate(async () => {
    const out = {};
    for (const path of ['/console/api/me', '/console/api/agents', '/console/api/history?q=x']) {
      out[path] = (await fetch(path)).status;
    }
    out.ws = await new Promise((resolve) => {
      const ws = new WebSocket(`ws://${location.host}/console/ws`);
      ws.onopen = () => { ws.close(); resolve('open'); };
      ws.onerror = () => resolve('refused');
    });
    return out;
  });
  for (const [what, status] of Object.entries(statuses)) {
    check(status === 401 || status === 'refused', `${what} without a session: ${status}`);
  }
  await screenshot(page, 'console-sign-in');

  await page.fill('#name', env('AGENT_LOGIN'));
  await page.fill('#password', 'not the password');
  await page.click('button[type=submit]');
  await page.locator('#err', { hasText: 'wrong name or password' }).waitFor();

  await page.fill('#password', env('AGENT_PASSWORD'));
  await page.click('button[type=submit]');
  await page.waitForURL(base + '/console');
  await page.locator('#conn', { hasText: 'live' }).waitFor();
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'tandem_console');
  check(session && session.httpOnly && session.sameSite === 'Strict', `an HTTP-only SameSite=Strict session cookie: ${JSON.stringify(session)}`);

  // Signing out ends the session: the console leads back to the sign-in page.
  await page.click('#logout');
  await page.waitForURL(base + '/console/login');
  await page.goto(base + '/console');
  await page.waitForURL(base + '/console/login');
});

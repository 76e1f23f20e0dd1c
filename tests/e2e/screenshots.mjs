// Writes the README's screenshots of the real UI: a conversation between three people, wide and phone,
// light and dark. Run by scripts/screenshots (SCREENSHOT_DIR, default docs/screenshots); the ordinary
// test run does not call it, so it leaves the work tree clean.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Server, launchBrowser, newPerson, createRoom, openRoom, sendMessage, messageWithText, repoRoot, sleep } from './helpers.mjs';

const dir = path.resolve(process.env.SCREENSHOT_DIR || path.join(repoRoot, 'docs', 'screenshots'));
mkdirSync(dir, { recursive: true });

const server = await Server.start();
const browser = await launchBrowser();
try {
  const maya = await newPerson(browser, server, { name: 'Maya Chen', viewport: { width: 1360, height: 820 } });
  const theo = await newPerson(browser, server, { name: 'Theo' });
  const priya = await newPerson(browser, server, { name: 'Priya Nair' });

  for (const room of ['general', 'releases', 'random']) await (await createRoom(maya, room)).close();
  const m = await createRoom(maya, 'design-reviews');
  const t = await openRoom(theo, 'design-reviews');
  const p = await openRoom(priya, 'design-reviews');
  const say = async (page, text) => {
    await sendMessage(page, text);
    await messageWithText(m, text).waitFor();
  };
  await say(t, 'Morning! The new sidebar mock is up: https://example.com/mocks/sidebar-v3');
  await say(t, 'Unread counts on the right, mentions in red.');
  await say(m, 'Looks great. Does it collapse on phones?');
  await say(p, 'It does: below 760 px it becomes a drawer behind the menu button.\nI tried it at 360 px, nothing overflows.');
  await say(t, '@Maya Chen can you check the dark theme contrast before Friday?');
  await say(m, 'On it. axe-core runs on every page state now, so the tests would catch it.');
  await say(p, 'Nice. Shipping it with the next release then.');

  // Unread activity in other rooms, for the sidebar badges.
  const tg = await openRoom(theo, 'general');
  for (const text of ['Standup moved to 10:30', 'Coffee machine is fixed', '@Maya Chen lunch?']) await sendMessage(tg, text);
  const pr = await openRoom(priya, 'releases');
  await sendMessage(pr, 'v0.9 is tagged');
  await sleep(800);

  for (const scheme of ['light', 'dark']) {
    await m.emulateMedia({ colorScheme: scheme });
    await m.setViewportSize({ width: 1360, height: 820 });
    await m.getByTestId('composer').fill('');
    await m.mouse.move(0, 0);
    await sleep(300);
    await m.screenshot({ path: path.join(dir, `wide-${scheme}.png`) });
    await m.setViewportSize({ width: 360, height: 740 });
    await sleep(300);
    await m.screenshot({ path: path.join(dir, `phone-${scheme}.png`) });
  }
  // The room browser, light.
  const browse = await maya.newPage('/');
  await browse.setViewportSize({ width: 1360, height: 820 });
  await browse.getByTestId('directory-item').first().waitFor();
  await browse.locator('[data-room="general"] [data-testid="unread-count"]').waitFor();
  await sleep(300);
  await browse.screenshot({ path: path.join(dir, 'rooms-light.png') });
  console.log(`screenshots written to ${dir}`);
} finally {
  await browser.close();
  await server.dispose();
}

import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: the browser tests never let a tool download one of its own. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium, headless, with the flags every browser test and the screenshot script use
 * (no sandbox in a container, nothing reaching the network by itself). A missing browser is an
 * error saying how to install it, not a skipped test: `.ci/run` installs it.
 */
export async function launchChromium(purpose: string): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium) ${purpose}`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 20_000,
  });
}

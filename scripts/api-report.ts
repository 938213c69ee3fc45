/**
 * The API reports (etc/*.api.md): one per package entry point, produced by API Extractor from the
 * built declarations (dist/*.d.ts; build first). Checked in, so a change of the public API shows
 * in review as a change of these files.
 *
 *   tsx scripts/api-report.ts           check: fails when an export would change a report
 *   tsx scripts/api-report.ts --update  rewrite the reports (then commit them)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig, ExtractorLogLevel } from '@microsoft/api-extractor';

const CONFIG_FOLDER = fileURLToPath(new URL('../etc/api-extractor/', import.meta.url));
const update = process.argv.includes('--update');

const changed: string[] = [];
const failed: string[] = [];
for (const file of readdirSync(CONFIG_FOLDER)
  .filter((name) => name.endsWith('.json'))
  .sort()) {
  const config = ExtractorConfig.loadFileAndPrepare(join(CONFIG_FOLDER, file));
  const result = Extractor.invoke(config, {
    localBuild: update,
    messageCallback: (message) => {
      // The banner and "completed" lines, once per entry point, say nothing here; the outcome is printed below.
      if (message.logLevel === ExtractorLogLevel.Info || message.logLevel === ExtractorLogLevel.Verbose)
        message.handled = true;
    },
  });
  if (result.apiReportChanged) changed.push(config.reportFilePath);
  if (result.errorCount > 0) failed.push(`${file}: ${result.errorCount} error(s)`);
}

if (failed.length > 0) {
  console.error(`API Extractor failed:\n  ${failed.join('\n  ')}`);
  process.exitCode = 1;
} else if (changed.length > 0 && !update) {
  console.error(
    `The public API changed; these reports differ from the build:\n  ${changed.join('\n  ')}\n` +
      'If the change is meant, run `npm run api:update` and commit the reports with it.',
  );
  process.exitCode = 1;
} else {
  console.log(update ? `API reports written (${changed.length} changed).` : 'API reports match the build.');
}

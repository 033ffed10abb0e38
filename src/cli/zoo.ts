/**
 * `oodgen zoo [--zoo DIR] [--json]`: the trained models of a zoo (the checkout's zoo/ by default), each with its
 * model, training data, weights size and how far its training got, so that a model exported before early stopping
 * ended its run is not taken for a converged one. Reads JSON files only; nothing here loads the tensor engine.
 */
import type { Command } from 'commander';
import { listZoo, zooDir, type ZooEntry } from '../benchmark/models.js';

export function formatZoo(zoo: string, rows: ZooEntry[]): string {
  if (rows.length === 0) return `zoo ${zoo}: no models (a model is a folder with model.safetensors and config.json)`;
  const w = (f: (r: ZooEntry) => string) => Math.max(...rows.map((r) => f(r).length));
  const [wn, wm, wd] = [w((r) => r.name), w((r) => r.model ?? ''), w((r) => r.data ?? '')];
  const lines = [`zoo ${zoo}: ${rows.length} model${rows.length > 1 ? 's' : ''}`];
  for (const r of rows) {
    if (r.problem) { lines.push(`  ${r.name.padEnd(wn)}  NOT USABLE: ${r.problem}`); continue; }
    const mb = `${(r.bytes! / 1e6).toFixed(1)} MB`;
    lines.push(`  ${r.name.padEnd(wn)}  ${r.model!.padEnd(wm)}  ${r.data!.padEnd(wd)}  ${mb.padStart(8)}  ${r.training!.text}`);
  }
  return lines.join('\n');
}

export function registerZooCommand(program: Command, out: { write: (s: string) => void } = { write: (s) => void process.stdout.write(s) }): void {
  program.command('zoo')
    .description('list the trained models of a zoo (default: the checkout\'s zoo/) with their training status: converged by early stopping, or not')
    .option('--zoo <dir>', 'zoo folder (default: OODGEN_ZOO, else <repo>/zoo)')
    .option('--json', 'one JSON object {zoo, models: [...]} instead of the table')
    .action((o: { zoo?: string; json?: boolean }) => {
      const zoo = zooDir(o.zoo);
      const rows = listZoo(zoo);
      out.write((o.json ? JSON.stringify({ zoo, models: rows }, null, 1) : formatZoo(zoo, rows)) + '\n');
    });
}

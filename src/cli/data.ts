/**
 * `oodgen data list | inspect | fetch | preview`: what data is here, whether a file is sound, getting data, and
 * looking at it. Nothing here loads the tensor engine.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { OodgenError } from '../errors.js';
import { fetchDataset, FROM_FOLDER, REMOTE } from '../data/fetch.js';
import { formatInspect, inspectTarget } from '../data/inspect.js';
import { loadDataset, listDatasets, type DatasetListing } from '../data/registry.js';
import { cacheDir, sharedDataDir } from '../data/paths.js';
import { writeImageGrid } from '../eval/grid.js';

function intArg(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
}

function channelsArg(v: string): 1 | 3 {
  if (v !== '1' && v !== '3') throw new InvalidArgumentError(`--channels must be 1 or 3, got "${v}"`);
  return Number(v) as 1 | 3;
}

export function formatListing(rows: DatasetListing[]): string {
  const lines = [`cache: ${cacheDir()} (OODGEN_DATA)   shared: ${sharedDataDir() ?? '-'} (OODGEN_SHARED_DATA)`];
  const w = Math.max(...rows.map((r) => r.spec.length));
  for (const r of rows) {
    if (!r.available) {
      lines.push(`  ${r.spec.padEnd(w)}  not here${r.note ? `: ${r.note}` : ''}`);
      continue;
    }
    const shape = r.shape ? `${r.shape[1]}x${r.shape[2]}x${r.shape[0]}` : 'any size';
    const count = r.origin === 'synthetic' ? 'N (default 10000)' : String(r.count);
    lines.push(`  ${r.spec.padEnd(w)}  ${count.padStart(6)}  ${shape.padEnd(9)}  ${r.format}  ${r.source ?? r.note ?? ''}${r.origin && r.origin !== 'synthetic' ? ` (${r.origin})` : ''}`);
  }
  return lines.join('\n');
}

export function registerDataCommands(program: Command, io: { write?: (s: string) => void; err?: (s: string) => void } = {}): Command {
  const write = io.write ?? ((s: string) => void process.stdout.write(s));
  const err = io.err ?? ((s: string) => void process.stderr.write(s));
  const data = program.command('data').description('datasets: list what is here, check a file, download, preview');

  data
    .command('list')
    .description('datasets available on this machine: counts, shapes, where from')
    .option('--json', 'print JSON')
    .option('--root <dir>', 'look only in this folder')
    .action(async (o: { json?: boolean; root?: string }) => {
      const rows = await listDatasets({ root: o.root });
      write((o.json ? JSON.stringify(rows, null, 2) : formatListing(rows)) + '\n');
    });

  data
    .command('inspect')
    .description('read a file, folder or dataset completely and report format, count, shape, dtype and value range')
    .argument('<target>', 'a path (IDX, CIFAR-10 .bin, SVHN .mat, .safetensors, image folder) or dataset[:split]')
    .option('--json', 'print JSON')
    .option('--full', 'image folders: decode every image, not an evenly spaced sample')
    .option('--root <dir>', 'look for named datasets only in this folder')
    .action(async (target: string, o: { json?: boolean; full?: boolean; root?: string }) => {
      const r = await inspectTarget(target, { full: o.full, root: o.root });
      write((o.json ? JSON.stringify(r, null, 2) : formatInspect(r)) + '\n');
    });

  data
    .command('fetch')
    .description(`download into the cache with checksums (${Object.keys(REMOTE).join(', ')}), or link a local copy (${[...FROM_FOLDER].join(', ')} --from DIR)`)
    .argument('<name>', 'dataset name')
    .option('--from <dir>', 'CelebA / LSUN: the folder with your copy')
    .option('--root <dir>', 'cache folder (default OODGEN_DATA or ~/.cache/oodgen)')
    .option('--all', 'also fetch optional files (SVHN extra, 1.3 GB)')
    .option('--mirror <url>', 'fetch from this host instead, same paths')
    .action(async (name: string, o: { from?: string; root?: string; all?: boolean; mirror?: string }) => {
      let last = 0;
      const tty = process.stderr.isTTY;
      const dir = await fetchDataset(name.toLowerCase(), {
        from: o.from, root: o.root, all: o.all, baseUrl: o.mirror,
        log: (m) => err(`${tty ? '\r\x1b[K' : ''}${m}\n`),
        onProgress: (file, got, total) => {
          const now = Date.now();
          if (!tty || now - last < 200) return;
          last = now;
          err(`\r\x1b[K${file}: ${(got / 1e6).toFixed(1)}${total ? ` / ${(total / 1e6).toFixed(1)}` : ''} MB`);
        },
      });
      write(`${name}: ready in ${dir}\n`);
    });

  data
    .command('preview')
    .description('write an image grid of a dataset as PNG')
    .argument('<name>', 'dataset[:split] or a path')
    .requiredOption('--out <file.png>', 'output PNG')
    .option('-n, --count <n>', 'images to show (evenly spaced over the split)', intArg('--count', 1), 64)
    .option('--size <px>', 'image size after preprocessing', intArg('--size', 1), 32)
    .option('--channels <c>', '1 or 3 (default: the dataset\'s own)', channelsArg)
    .option('--nrow <n>', 'images per row', intArg('--nrow', 1))
    .option('--scale <k>', 'integer upscale factor', intArg('--scale', 1), 2)
    .option('--root <dir>', 'look for named datasets only in this folder')
    .action(async (name: string, o: { out: string; count: number; size: number; channels?: 1 | 3; nrow?: number; scale: number; root?: string }) => {
      if (!o.out.toLowerCase().endsWith('.png')) throw new OodgenError(`--out ${o.out}: the preview is a PNG; name it *.png`);
      const { set, preprocessing } = await loadDataset(name, { imageSize: o.size, channels: o.channels, limit: o.count, root: o.root });
      await writeImageGrid(o.out, set.images, set.shape, { nrow: o.nrow, scale: o.scale });
      write(`${o.out}: ${set.shape[0]} images of ${preprocessing.dataset}:${preprocessing.split} (${set.shape[2]}x${set.shape[3]}x${set.shape[1]}) from ${preprocessing.source}\n`);
    });
  return data;
}

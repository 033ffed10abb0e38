// `oodgen train --data NAME` without --channels: colour datasets (CIFAR-10, CIFAR-100, SVHN, CelebA, LSUN) train
// 3-channel models, the gray ones 1-channel, decided from the name alone before any image is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parseTrainOptions } from '../../src/cli/train-options.js';
import { tempDir } from '../helpers/tmp.js';

test('default channels follow the dataset: 3 for the colour sets (cifar100 and its alias included), 1 for the gray', async (t) => {
  const out = join(tempDir('colour', t), 'x');
  for (const [data, channels] of [['cifar10:train', 3], ['cifar100:train', 3], ['cifar-100:test', 3], ['svhn', 3], ['celeba', 3], ['lsun', 3], ['fashion-mnist', 1], ['mnist:test', 1], ['kmnist', 1]] as const) {
    const o = await parseTrainOptions({ model: 'vae', data, out, epochs: '1' }, ['node', 'oodgen']);
    assert.equal(o.model!.channels, channels, data);
  }
});

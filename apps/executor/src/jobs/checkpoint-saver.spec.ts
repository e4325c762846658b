import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CheckpointSaver } from './checkpoint-saver.js';

describe('CheckpointSaver', () => {
  let folder: string;
  beforeEach(async () => {
    folder = await mkdtemp(path.join(os.tmpdir(), 'acai-ckpt-'));
  });
  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('saves on each checkpoint line, and while one save runs later ones collapse into the newest', async () => {
    await writeFile(path.join(folder, 'state'), '1');
    const saved: (number | null)[] = [];
    let release!: () => void;
    const firstSaveBlocks = new Promise<void>((r) => (release = r));
    const saver = new CheckpointSaver(
      folder,
      async (step) => {
        saved.push(step);
        if (saved.length === 1) await firstSaveBlocks;
      },
      () => undefined,
    );
    saver.line('##acai checkpoint step=1');
    saver.line('epoch 2 done');
    saver.line('##acai checkpoint step=2');
    saver.line('##acai checkpoint step=3');
    release();
    await saver.close();
    expect(saved).toEqual([1, 3]);
  });

  it('tells the job when its line is malformed, its folder empty, or a save failed, and goes on', async () => {
    const notes: string[] = [];
    let fail = true;
    const saved: (number | null)[] = [];
    const saver = new CheckpointSaver(
      folder,
      async (step) => {
        if (fail) throw new Error('catalog unavailable');
        saved.push(step);
      },
      (note) => notes.push(note),
    );
    saver.line('##acai checkpoint step=x');
    saver.line('##acai checkpoint step=1');
    await saver.close();
    await writeFile(path.join(folder, 'state'), '2');
    saver.line('##acai checkpoint step=2');
    await saver.close();
    fail = false;
    saver.line('##acai checkpoint');
    await saver.close();
    expect(notes).toEqual([
      "acai: ignored a checkpoint line (expected 'step=<whole number>', got 'step=x'): ##acai checkpoint step=x",
      'acai: ignored a checkpoint line: the checkpoint folder ($ACAI_CHECKPOINT_DIR) is empty; write the state there first',
      'acai: could not save a checkpoint of step 2: catalog unavailable',
    ]);
    expect(saved).toEqual([null]);
  });
});

import type { TriggeredTestSet } from '../../src/attacks/backdoor/attack';
import { evaluateBackdoor, poisonTrainingSet, triggeredTestSet } from '../../src/attacks/backdoor/poison';
import { buildAttack } from '../../src/attacks/backdoor/registry';
import { type Dataset, subset } from '../../src/data/dataset';
import { loadMnist } from '../../src/data/mnist';
import type { Model } from '../../src/models/model';
import { createModel } from '../../src/models/registry';
import { silentSink } from '../../src/progress';
import { Rng } from '../../src/rng';
import { resolveProfile } from '../../src/train/profiles';
import { train } from '../../src/train/trainer';

/** Images `from`…`from + perClass − 1` of every class, in dataset order. */
function perClassSlice(ds: Dataset, from: number, perClass: number): Dataset {
  const seen = new Array<number>(ds.classNames.length).fill(0);
  const out: number[] = [];
  for (let i = 0; i < ds.labels.length; i++) {
    const k = seen[ds.labels[i]]++;
    if (k >= from && k < from + perClass) out.push(i);
  }
  return subset(ds, out);
}

export interface BadNetsFixture {
  infected: Model;
  /** clean digits the infected model never saw: the defender's extra data */
  clean: Dataset;
  test: Dataset;
  triggered: TriggeredTestSet;
  target: number;
}

let fixture: Promise<BadNetsFixture> | null = null;

/**
 * mnist-net trained on 1,000 real digits, 10% carrying BadNets' checkerboard (all-to-one,
 * target 0), built once per test process (~7 s on wasm). Call initBackend first.
 */
export function badnetsMnist(): Promise<BadNetsFixture> {
  fixture ??= (async () => {
    const mnist = loadMnist();
    const trainSet = perClassSlice(mnist.train, 0, 100);
    const clean = perClassSlice(mnist.train, 100, 20);
    const test = perClassSlice(mnist.test, 0, 40);
    const attack = buildAttack({ name: 'badnets', rule: { mode: 'all2one', target: 0, numClasses: 10 }, inputShape: [28, 28, 1], seed: 1, options: {} });
    const { data } = poisonTrainingSet(trainSet, attack, { ratio: 0.1, rng: new Rng(2) });
    const infected = createModel({ arch: 'mnist-net', inputShape: [28, 28, 1], numClasses: 10 }, 3);
    await train(infected, data, { ...resolveProfile('smoke', 'mnist').train, epochs: 4 }, { seed: 4, progress: silentSink });
    const triggered = triggeredTestSet(test, attack);
    attack.trigger.dispose();
    return { infected, clean, test, triggered, target: 0 };
  })();
  return fixture;
}

export async function backdoorMetrics(model: Model, f: BadNetsFixture): Promise<{ acc: number; asr: number }> {
  const { acc, asr } = await evaluateBackdoor(model, f.test, f.triggered);
  return { acc, asr };
}

// %%kaptain cells run in the frontend through JupyterLab's INotebookCellExecutor (4.2+): a cell
// whose source starts with %%kaptain is parsed and run by the wasm core; every other cell goes
// to JupyterLab's own runCell unchanged.
//
// Order: "Run All" calls runCell for every cell at once and lets the kernel queue them. A
// kaptain cell does not go through the kernel, so the executor keeps each notebook's order
// itself: a kaptain cell starts when every cell scheduled before it ended, cells scheduled
// after it wait for it, and when it fails (or a cell before it failed) the cells queued behind
// it are not run, as the kernel aborts queued cells after an error.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { CodeCell, ICodeCellModel } from '@jupyterlab/cells';
import { INotebookCellExecutor, INotebookTracker, runCell as defaultRunCell } from '@jupyterlab/notebook';

import { RunsModel } from './runs';
import { coreError, ErrorCause, errorOutput, RUN_MIME, runOutput } from './output';
import { IKaptainCore, IKaptainRuns } from './tokens';

/** The cell magic: the first non-blank text of the cell, followed by a blank or the end. */
const MAGIC = /^\s*%%kaptain(?=\s|$)/;

/** Whether a cell's source is a %%kaptain cell. */
export function isKaptainCell(source: string): boolean {
  return MAGIC.test(source);
}

type RunCellOptions = INotebookCellExecutor.IRunCellOptions;

/** One notebook's queue: what was scheduled and not yet ended, and whether all went well. */
interface Queue {
  /** Resolves with false when a cell scheduled so far failed. */
  tail: Promise<boolean>;
  /** Cells scheduled and not ended. */
  pending: number;
  /** Kaptain cells scheduled and not ended (kernel cells behind one must wait). */
  kaptain: number;
}

/**
 * Keeps the order of a notebook's cells around frontend-run cells (pure; no JupyterLab):
 * `schedule(key, kind, run)` runs `run` in its turn and resolves with its result, or false
 * without running it when a cell before it failed.
 */
export class CellQueue {
  schedule(
    key: object,
    kind: 'kaptain' | 'kernel',
    run: () => Promise<boolean>,
    skip: () => void = () => undefined,
    wait: () => void = () => undefined
  ): Promise<boolean> {
    let queue = this._queues.get(key);
    if (!queue || queue.pending === 0) {
      queue = { tail: Promise.resolve(true), pending: 0, kaptain: 0 };
      this._queues.set(key, queue);
    }
    const q = queue;
    const previous = q.tail;
    let result: Promise<boolean>;
    if (kind === 'kernel' && q.kaptain === 0) {
      // Nothing of ours ahead: straight to the kernel, which queues it.
      result = run();
    } else {
      wait();
      result = previous.then(ok => {
        if (!ok) {
          skip();
          return false;
        }
        return run();
      });
    }
    q.pending++;
    if (kind === 'kaptain') {
      q.kaptain++;
    }
    const settled = result.then(
      r => r !== false,
      () => false
    );
    q.tail = Promise.all([previous, settled]).then(([a, b]) => a && b);
    void settled.then(() => {
      q.pending--;
      if (kind === 'kaptain') {
        q.kaptain--;
      }
    });
    return result;
  }

  private _queues = new WeakMap<object, Queue>();
}

export class KaptainCellExecutor implements INotebookCellExecutor {
  constructor(
    private options: {
      core: IKaptainCore;
      runs: RunsModel;
      /** The notebook tracker, resolved lazily (it depends on this executor). */
      tracker?: () => Promise<INotebookTracker | null>;
      fallback?: INotebookCellExecutor;
    }
  ) {}

  runCell(options: RunCellOptions): Promise<boolean> {
    const { cell } = options;
    const fallback = this.options.fallback ?? { runCell: defaultRunCell };
    const kaptain = cell.model.type === 'code' && isKaptainCell(cell.model.sharedModel.getSource());
    if (cell.model.type !== 'code') {
      return fallback.runCell(options);
    }
    const model = cell.model as ICodeCellModel;
    return this._queue.schedule(
      options.notebook,
      kaptain ? 'kaptain' : 'kernel',
      () => (kaptain ? this.runKaptain(options) : fallback.runCell(options)),
      () => {
        // Not run: a cell before it failed. Clear the queued prompt, as after an aborted reply.
        if (!cell.isDisposed && model.executionCount === null) {
          showRunning(cell as CodeCell, false);
        }
      },
      () => {
        if (!kaptain && !cell.isDisposed) {
          showRunning(cell as CodeCell, true); // queued behind a kaptain cell: [*]
        }
      }
    );
  }

  private async notebookPath(options: RunCellOptions): Promise<string> {
    const tracker = this.options.tracker ? await this.options.tracker().catch(() => null) : null;
    const panel = tracker?.find(p => p.content.model === options.notebook);
    return panel?.context.localPath ?? options.sessionContext?.path ?? '';
  }

  /** Runs a %%kaptain cell; resolves true when its run succeeded. */
  private async runKaptain(options: RunCellOptions): Promise<boolean> {
    const { cell, onCellExecuted, onCellExecutionScheduled } = options;
    const model = cell.model as ICodeCellModel;
    const source = model.sharedModel.getSource();
    const cellId = model.sharedModel.getId();
    const { core, runs } = this.options;

    onCellExecutionScheduled({ cell });
    model.sharedModel.transact(() => {
      model.clearExecution();
      (cell as CodeCell).outputHidden = false;
    }, false);
    showRunning(cell as CodeCell, true);
    model.trusted = true;

    const fail = (reason: unknown, cause: ErrorCause) => {
      if (!cell.isDisposed) {
        model.outputs.clear();
        model.outputs.add(errorOutput(coreError(reason), source, cause));
        showRunning(cell as CodeCell, false);
      }
      onCellExecuted({ cell, success: false });
      return false;
    };

    // Parse first: an invalid cell creates nothing.
    let summary;
    let notebook: string;
    let wasm, cluster, env, settings;
    try {
      notebook = await this.notebookPath(options);
      wasm = await core.wasm();
      [cluster, env, settings] = await Promise.all([core.cluster(), core.env(), core.settings()]);
    } catch (reason) {
      return fail(reason, 'setup'); // the wasm, a chunk or the server: not the cell
    }
    try {
      summary = wasm.parse(source, { namespace: cluster.namespace, env, settings, notebook, cellId });
    } catch (reason) {
      return fail(reason, 'cell');
    }

    const done = runs.start({ cell: source, summary, notebook, cellId });
    const started = runs.get(summary.runId);
    if (started && !cell.isDisposed) {
      model.outputs.add(runOutput(started));
    }
    const record = await done;

    if (!cell.isDisposed) {
      // Keep the saved summary in step with the end (the renderer draws from the ledger).
      const index = findRunOutput(model, record.runId);
      if (index >= 0) {
        model.outputs.set(index, runOutput(record));
      }
      showRunning(cell as CodeCell, false);
    }
    const success = record.state === 'succeeded';
    onCellExecuted({ cell, success });
    return success;
  }

  private _queue = new CellQueue();
}

/**
 * Shows a cell as running ([*]) or not. JupyterLab 4.3 and later keep that in the model
 * (`executionState`, which the prompt follows); 4.2 has only the widget's prompt.
 */
function showRunning(cell: CodeCell, running: boolean): void {
  const model = cell.model as ICodeCellModel;
  const stateful = model as unknown as { executionState?: 'running' | 'idle' };
  if ('executionState' in stateful) {
    stateful.executionState = running ? 'running' : 'idle';
  } else {
    cell.setPrompt(running ? '*' : `${model.executionCount ?? ''}`);
  }
}

function findRunOutput(model: ICodeCellModel, runId: string): number {
  for (let i = 0; i < model.outputs.length; i++) {
    const data = model.outputs.get(i).data[RUN_MIME] as { runId?: string } | undefined;
    if (data?.runId === runId) {
      return i;
    }
  }
  return -1;
}

export const executorPlugin: JupyterFrontEndPlugin<INotebookCellExecutor> = {
  id: 'kaptain-jupyterlab:executor',
  description: 'Runs %%kaptain cells in the browser through the wasm core; other cells as usual.',
  autoStart: true,
  // Not INotebookTracker: the tracker requires INotebookCellExecutor (a cycle).
  requires: [IKaptainCore, IKaptainRuns],
  provides: INotebookCellExecutor,
  activate: (app: JupyterFrontEnd, core: IKaptainCore, runs: IKaptainRuns): INotebookCellExecutor => {
    if (!(runs instanceof RunsModel)) {
      // Another IKaptainRuns cannot start runs: leave every cell to JupyterLab.
      console.warn('kaptain: IKaptainRuns is not the kaptain runs model; %%kaptain cells run in the kernel');
      return Object.freeze({ runCell: defaultRunCell });
    }
    return new KaptainCellExecutor({
      core,
      runs,
      tracker: () => app.resolveOptionalService(INotebookTracker)
    });
  }
};

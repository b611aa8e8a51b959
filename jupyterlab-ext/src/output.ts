// The %%kaptain cell output. The executor writes ONE display_data output: the MIME type
// application/vnd.kaptain.run+json ({runId, notebook, cellId}) and a text/plain summary. The
// renderer below draws it live from IKaptainRuns, so that after a reload (or in a saved
// notebook) the output re-attaches to the run the ledger holds. A cell the core rejects gets
// application/vnd.kaptain.error+json instead: the message, pointing at the line.
//
// DOM contract (the Playwright tests rely on it):
//   .kaptain-run[data-run-id][data-state]            root; data-state is a RunState
//   .kaptain-phase[data-phase][data-outcome]         succeeded|failed|interrupted|running|pending|skipped|not-started
//   .kaptain-object[data-kind][data-name][data-state][data-fate]   data-fate once decided: delete|keep|restore|remains
//   .kaptain-error                                   the core's message (run error or invalid cell)
//   .kaptain-cleanup                                 "Interrupted: deleted N objects in X.X s" + list
//   .kaptain-logs                                    pod log tails
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { PartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import type { KaptainError } from 'kaptain-wasm';

import { errorMessage } from './panel-model';
import type { IKaptainRuns, RunRecord, RunState } from './tokens';

export const RUN_MIME = 'application/vnd.kaptain.run+json';
export const ERROR_MIME = 'application/vnd.kaptain.error+json';

/** What the run output carries: which run to show. */
export interface RunOutputData {
  runId: string;
  notebook: string;
  cellId: string;
}

/** What the error output carries. */
export interface CellErrorData {
  message: string;
  /** 1-based: where the core's error points (KaptainError's line and column). */
  line?: number;
  column?: number;
  /** The offending line of the cell. */
  excerpt?: string;
  /** What went wrong: the cell itself (the default), or starting the run (the wasm, the server). */
  cause?: ErrorCause;
}

export type ErrorCause = 'cell' | 'setup';

/** The first line of an error output, saying whose fault it is and that nothing was created. */
export function errorTitle(cause: ErrorCause = 'cell'): string {
  return cause === 'setup'
    ? 'kaptain: the run could not start; nothing was created.'
    : 'kaptain: the cell is not valid; nothing was created.';
}

/** A display_data output (nbformat), as the executor adds it to the cell. */
export interface DisplayData extends PartialJSONObject {
  output_type: 'display_data';
  data: Record<string, PartialJSONObject | string>;
  metadata: PartialJSONObject;
}

export const STATE_LABELS: Record<RunState, string> = {
  starting: 'Starting',
  running: 'Running',
  cleaning: 'Cleaning up',
  succeeded: 'Succeeded',
  failed: 'Failed',
  interrupted: 'Interrupted',
  error: 'Error'
};

const FATE_LABELS = { delete: 'Deleted', keep: 'Kept', restore: 'Restored', remains: 'Remains' } as const;

/** "kaptain train · dev/mnist · run r7k2m9q · Running" */
export function summaryText(record: RunRecord): string {
  const parts = [`kaptain ${record.step}`, record.modelId, `run ${record.runId}`, STATE_LABELS[record.state]];
  let text = parts.filter(Boolean).join(' · ');
  if (record.message && !['starting', 'running'].includes(record.state)) {
    text += `\n${record.message}`;
  }
  if (record.cleanup) {
    text += `\n${cleanupHeadline(record)}`;
  }
  return text;
}

export function runOutput(record: RunRecord): DisplayData {
  const data: PartialJSONObject = { runId: record.runId, notebook: record.notebook, cellId: record.cellId };
  return {
    output_type: 'display_data',
    data: { [RUN_MIME]: data, 'text/plain': summaryText(record) },
    metadata: {}
  };
}

/** What the cell output needs of a rejection: the message, and where the core says it is. */
export type CoreError = Pick<KaptainError, 'message' | 'line' | 'column'>;

/** Whatever a call rejected with, as a CoreError (a KaptainError's position, when it has one). */
export function coreError(reason: unknown): CoreError {
  const at = (reason ?? {}) as Partial<KaptainError>;
  const position = typeof at.line === 'number' && typeof at.column === 'number' ? { line: at.line, column: at.column } : {};
  return { message: errorMessage(reason), ...position };
}

/** The error with the cell's line it points at. */
export function locateError(error: CoreError, cell?: string): CellErrorData {
  const data: CellErrorData = { message: error.message };
  if (error.line !== undefined && error.column !== undefined) {
    data.line = error.line;
    data.column = error.column;
    const line = cell?.split('\n')[data.line - 1];
    if (line !== undefined) {
      data.excerpt = line;
    }
  }
  return data;
}

export function errorOutput(error: CoreError, cell?: string, cause: ErrorCause = 'cell'): DisplayData {
  const data = cause === 'cell' ? locateError(error, cell) : { message: error.message };
  let text = `${errorTitle(cause)}\n${error.message}`;
  if (data.excerpt !== undefined && data.column) {
    text += `\n  ${data.line} | ${data.excerpt}\n  ${' '.repeat(String(data.line).length)} | ${' '.repeat(
      Math.max(0, data.column - 1)
    )}^`;
  }
  return {
    output_type: 'display_data',
    data: {
      [ERROR_MIME]: { message: data.message, line: data.line, column: data.column, excerpt: data.excerpt, cause },
      'text/plain': text
    },
    metadata: {}
  };
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function seconds(millis: number): string {
  return `${(millis / 1000).toFixed(1)} s`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function cleanupHeadline(record: RunRecord): string {
  const cleanup = record.cleanup!;
  const what = record.state === 'interrupted' ? 'Interrupted' : 'Cleaned up';
  let text = `${what}: deleted ${plural(cleanup.deleted.length, 'object')} in ${seconds(cleanup.millis)}`;
  if (cleanup.remaining.length) {
    text += `; ${cleanup.remaining.length} could not be confirmed gone`;
  }
  return text;
}

function duration(record: RunRecord, now: number): string {
  const millis = (record.endedAt ?? now) - record.startedAt;
  if (!(millis >= 0)) {
    return '';
  }
  const s = Math.round(millis / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/**
 * Each phase with its outcome, or running / pending; a build the core skipped (its
 * `build-skipped` event: the image was built before) is "skipped", and a phase of an ended run
 * that never started (the run failed before it) "not-started".
 */
export function phaseProgress(record: RunRecord): { phase: string; outcome: string; message?: string }[] {
  const live = ['starting', 'running', 'cleaning'].includes(record.state);
  // The phases the core planned at the start (see RunsModel.start), then any it reported since.
  const names = [...new Set(record.phases.map(p => p.phase))];
  if (names.length === 0 && record.step) {
    names.push(record.step);
  }
  let current = false;
  return names.map(phase => {
    const ended = record.phases.find(p => p.phase === phase);
    if (ended?.outcome) {
      return { phase, outcome: ended.outcome, message: ended.message };
    }
    if (phase === 'build' && record.build?.skippedImage) {
      return { phase, outcome: 'skipped', message: `${record.build.skippedImage} was built before` };
    }
    if (!live) {
      return { phase, outcome: 'not-started' };
    }
    if (!current) {
      current = true;
      return { phase, outcome: 'running' };
    }
    return { phase, outcome: 'pending' };
  });
}

/** Draws a run into `node` following the DOM contract; `record` undefined: not in the ledger. */
export function renderRun(
  node: HTMLElement,
  data: RunOutputData,
  record: RunRecord | undefined,
  now = Date.now()
): void {
  node.textContent = '';
  node.classList.add('kaptain-run');
  node.dataset.runId = data.runId;
  if (!record) {
    delete node.dataset.state;
    const header = el('div', 'kaptain-run-header');
    header.append(el('span', 'kaptain-run-title', `kaptain · run ${data.runId}`));
    node.append(header);
    node.append(
      el(
        'div',
        'kaptain-note',
        "This run is not in this browser's ledger (it ran in another browser, or was forgotten). " +
          'The kaptain panel lists what the cluster still holds of it.'
      )
    );
    return;
  }
  node.dataset.state = record.state;

  // Header: kaptain train · dev/mnist · run r7k2m9q · Running
  const header = el('div', 'kaptain-run-header');
  header.append(el('span', 'kaptain-run-title', `kaptain ${record.step}`));
  header.append(el('span', 'kaptain-run-model', record.modelId));
  header.append(el('span', 'kaptain-run-id', `run ${record.runId}`));
  const badge = el('span', `kaptain-badge kaptain-badge-${record.state}`, STATE_LABELS[record.state]);
  header.append(badge);
  const took = duration(record, now);
  if (took) {
    header.append(el('span', 'kaptain-run-time', took));
  }
  if (record.namespace) {
    header.append(el('span', 'kaptain-run-namespace', `namespace ${record.namespace}`));
  }
  node.append(header);

  // Phases: build → train
  const phases = phaseProgress(record);
  if (phases.length) {
    const list = el('div', 'kaptain-phases');
    phases.forEach((p, i) => {
      if (i) {
        list.append(el('span', 'kaptain-phase-arrow', '→'));
      }
      const item = el('span', 'kaptain-phase');
      item.dataset.phase = p.phase;
      item.dataset.outcome = p.outcome;
      item.textContent = `${p.phase}: ${p.outcome.replace('-', ' ')}`;
      if (p.message) {
        item.title = p.message;
      }
      list.append(item);
    });
    node.append(list);
  }

  // The build step: where the context went, or why nothing was built.
  if (record.build?.uploaded) {
    node.append(el('div', 'kaptain-build', `Build context uploaded to ${record.build.uploaded} (${record.build.bytes} bytes)`));
  } else if (record.build?.skippedImage) {
    node.append(
      el('div', 'kaptain-build', `Build skipped: ${record.build.skippedImage} was built by run ${record.build.builtBy}`)
    );
  }

  // The outcome or the error.
  if (record.state === 'error') {
    node.append(el('div', 'kaptain-error', record.message ?? 'The run could not be carried out.'));
  } else if (record.message) {
    node.append(el('div', `kaptain-message kaptain-message-${record.state}`, record.message));
  }

  // Interruption (or cleanup) summary.
  if (record.cleanup) {
    const box = el('div', 'kaptain-cleanup');
    box.append(el('div', 'kaptain-cleanup-headline', cleanupHeadline(record)));
    const list = el('ul', 'kaptain-cleanup-list');
    for (const o of record.cleanup.deleted) {
      list.append(el('li', 'kaptain-cleanup-deleted', `deleted ${o.kind} ${o.name}`));
    }
    for (const [o, why] of record.cleanup.remaining) {
      list.append(el('li', 'kaptain-cleanup-remaining', `not confirmed gone: ${o.kind} ${o.name} (${why})`));
    }
    box.append(list);
    node.append(box);
  }

  // Objects.
  if (record.objects.length) {
    const ended = !['starting', 'running'].includes(record.state);
    const table = el('table', 'kaptain-objects');
    const head = el('tr');
    for (const title of ['Kind', 'Name', 'State', ended ? 'When the run ended' : 'Message']) {
      head.append(el('th', undefined, title));
    }
    const thead = el('thead');
    thead.append(head);
    table.append(thead);
    const body = el('tbody');
    for (const o of record.objects) {
      const row = el('tr', 'kaptain-object');
      row.dataset.kind = o.kind;
      row.dataset.name = o.name;
      row.dataset.state = o.state;
      row.append(el('td', 'kaptain-object-kind', o.kind));
      row.append(el('td', 'kaptain-object-name', o.name));
      const state = el('td', 'kaptain-object-state', o.state || '…');
      if (ended && o.message) {
        state.title = o.message;
      }
      row.append(state);
      const last = el('td', 'kaptain-object-detail');
      if (o.fate) {
        row.dataset.fate = o.fate.action;
        last.append(el('span', `kaptain-fate kaptain-fate-${o.fate.action}`, FATE_LABELS[o.fate.action]));
        if (o.fate.reason) {
          last.append(el('span', 'kaptain-fate-reason', ` — ${o.fate.reason}`));
        }
      } else {
        last.textContent = o.message;
      }
      row.append(last);
      body.append(row);
    }
    table.append(body);
    node.append(table);
  }

  // What the lifecycle's decisions cost (the core's plan words them).
  for (const caveat of record.caveats ?? []) {
    node.append(el('div', 'kaptain-note kaptain-caveat', caveat));
  }

  // Pod logs.
  if (record.logs?.length) {
    const logs = el('div', 'kaptain-logs');
    logs.append(el('div', 'kaptain-logs-title', 'Pod logs (last lines)'));
    for (const log of record.logs) {
      const pod = el('div', 'kaptain-log');
      if (log.pod) {
        pod.append(el('div', 'kaptain-log-pod', log.pod));
      }
      if (log.error) {
        pod.append(el('div', 'kaptain-log-error', log.error));
      }
      if (log.lines.length) {
        pod.append(el('pre', 'kaptain-log-lines', log.lines.join('\n')));
      } else if (!log.error) {
        pod.append(el('div', 'kaptain-log-empty', '(no output yet)'));
      }
      logs.append(pod);
    }
    node.append(logs);
  }
}

/** Draws an invalid cell's error: the message and the line it points at. */
export function renderCellError(node: HTMLElement, data: CellErrorData): void {
  node.textContent = '';
  node.classList.add('kaptain-cell-error');
  const error = el('div', 'kaptain-error');
  error.append(el('div', 'kaptain-error-title', errorTitle(data.cause)));
  error.append(el('div', 'kaptain-error-message', data.message));
  if (data.excerpt !== undefined && data.line) {
    const where = el('pre', 'kaptain-error-excerpt');
    const gutter = `${data.line} | `;
    where.textContent = `${gutter}${data.excerpt}\n${' '.repeat(gutter.length + Math.max(0, (data.column ?? 1) - 1))}^`;
    error.append(where);
  }
  node.append(error);
}

/** Renders the run output, live: it follows IKaptainRuns.changed for its run. */
export class RunRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private runs: IKaptainRuns) {
    super();
    this.addClass('kaptain-run-output');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[RUN_MIME] as unknown as RunOutputData | undefined;
    if (data && typeof data.runId === 'string') {
      this._data = { runId: data.runId, notebook: String(data.notebook ?? ''), cellId: String(data.cellId ?? '') };
      if (!this._connected) {
        this.runs.changed.connect(this._onChanged, this);
        this._connected = true;
      }
      this.refresh();
    }
    return Promise.resolve();
  }

  dispose(): void {
    if (this._connected) {
      this.runs.changed.disconnect(this._onChanged, this);
    }
    if (this._timer !== undefined) {
      clearInterval(this._timer);
    }
    super.dispose();
  }

  private _onChanged(_: IKaptainRuns, record: RunRecord): void {
    if (record.runId === this._data?.runId) {
      this.refresh();
    }
  }

  private refresh(): void {
    if (!this._data) {
      return;
    }
    const record = this.runs.get(this._data.runId);
    const logs = this.node.querySelector('.kaptain-log-lines');
    const atBottom = !logs || logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    renderRun(this.node, this._data, record);
    if (atBottom) {
      this.node.querySelectorAll('.kaptain-log-lines').forEach(pre => (pre.scrollTop = pre.scrollHeight));
    }
    // Tick the elapsed time while the run lives.
    const live = !!record && ['starting', 'running', 'cleaning'].includes(record.state);
    if (live && this._timer === undefined) {
      this._timer = setInterval(() => this.refresh(), 1000);
    } else if (!live && this._timer !== undefined) {
      clearInterval(this._timer);
      this._timer = undefined;
    }
  }

  private _data: RunOutputData | null = null;
  private _connected = false;
  private _timer: ReturnType<typeof setInterval> | undefined;
}

export class CellErrorRenderer extends Widget implements IRenderMime.IRenderer {
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[ERROR_MIME] as unknown as CellErrorData | undefined;
    renderCellError(this.node, {
      message: String(data?.message ?? ''),
      line: typeof data?.line === 'number' ? data.line : undefined,
      column: typeof data?.column === 'number' ? data.column : undefined,
      excerpt: typeof data?.excerpt === 'string' ? data.excerpt : undefined,
      cause: data?.cause === 'setup' ? 'setup' : 'cell'
    });
    return Promise.resolve();
  }
}

/** The renderer factories to add to the IRenderMimeRegistry. Both only set text (safe). */
export function createRendererFactories(runs: IKaptainRuns): IRenderMime.IRendererFactory[] {
  return [
    {
      safe: true,
      mimeTypes: [RUN_MIME],
      defaultRank: 0,
      createRenderer: () => new RunRenderer(runs)
    },
    {
      safe: true,
      mimeTypes: [ERROR_MIME],
      defaultRank: 0,
      createRenderer: () => new CellErrorRenderer()
    }
  ];
}

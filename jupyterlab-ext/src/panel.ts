// The sidebar panel: every kaptain run in the namespace (found by label, the cluster's truth),
// merged with this browser's records, grouped by notebook and cell, with their objects and
// the actions on them: clean up a run, delete an object, show its YAML, sweep what runs left
// behind, prune a deployment's Revisions. The pure part (merge, group, orphans, ages) lives in
// panel-model.ts; this file renders it and calls the wasm core.
//
// DOM contract (the Playwright tests rely on it): root #kaptain-runs-panel; runs
// .kaptain-panel-run[data-run-id][data-step][data-status]; objects
// .kaptain-panel-object[data-kind][data-name]; buttons [data-action] = cleanup | delete | yaml |
// sweep | prune | refresh, and on links open-notebook | open-cell (a notebook's name; a run's
// notebook and cell, .kaptain-panel-run-cell[data-position]: "actions.ipynb · cell 3", the
// path and cell id in its title); input[name="sweep-older-than-hours"]; .kaptain-panel-empty;
// .kaptain-panel-revision[data-name][data-traffic]; pre.kaptain-yaml; .kaptain-panel-error.
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { INotebookTracker, Notebook, NotebookPanel } from '@jupyterlab/notebook';
import { Contents, ServerConnection } from '@jupyterlab/services';
import { codeIcon, deleteIcon, LabIcon, refreshIcon } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import type { InspectableKind, RevisionInfo, RunSummary, SweptRun, WhoseOptions } from 'kaptain-wasm';
import {
  errorMessage,
  fileName,
  findOrphans,
  formatAge,
  groupRuns,
  hoursToSeconds,
  inferenceServiceOf,
  mergeRuns,
  NotebookLookup,
  notebookCellIds,
  Orphan,
  PanelObject,
  PanelRun,
  RunPlace,
  runPlace
} from './panel-model';
import { ClusterOptions, IKaptainCore, IKaptainRuns, RunRecord } from './tokens';

/** What the panel's calls take: the cluster, and whose runs (this server's, or all). */
type PanelClusterOptions = ClusterOptions & { namespace: string };

export const PANEL_ID = 'kaptain-runs-panel';
const POLL_MILLIS = 5000;

/** A ship's wheel: kaptain. */
export const kaptainIcon = new LabIcon({
  name: 'kaptain-jupyterlab:runs',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    '<g class="jp-icon3" fill="#616161">' +
    '<path d="M12 2a1 1 0 0 1 1 1v1.07A8 8 0 0 1 19.93 11H21a1 1 0 1 1 0 2h-1.07A8 8 0 0 1 13 19.93V21a1 1 0 1 1-2 0v-1.07A8 8 0 0 1 4.07 13H3a1 1 0 1 1 0-2h1.07A8 8 0 0 1 11 4.07V3a1 1 0 0 1 1-1zm1 4.1v3.07a3 3 0 0 1 .83.35l2.17-2.17A6 6 0 0 0 13 6.1zm-2 0a6 6 0 0 0-3 1.25l2.17 2.17a3 3 0 0 1 .83-.35zM6.1 11h3.07a3 3 0 0 1 .35-.83L7.35 8A6 6 0 0 0 6.1 11zm0 2a6 6 0 0 0 1.25 3l2.17-2.17a3 3 0 0 1-.35-.83zm4.9 4.9v-3.07a3 3 0 0 1-.83-.35L8 16.65a6 6 0 0 0 3 1.25zm2 0a6 6 0 0 0 3-1.25l-2.17-2.17a3 3 0 0 1-.83.35zm4.9-4.9h-3.07a3 3 0 0 1-.35.83L16.65 16a6 6 0 0 0 1.25-3zm0-2a6 6 0 0 0-1.25-3l-2.17 2.17a3 3 0 0 1 .35.83zM12 11a1 1 0 1 0 0 2 1 1 0 0 0 0-2z"/>' +
    '</g></svg>'
});

/** What the panel needs from its surroundings (the plugin passes JupyterLab's). */
export interface RunsPanelOptions {
  core: IKaptainCore;
  runs: IKaptainRuns;
  /** Tells whether a notebook exists and which cells it has (orphan detection). */
  lookup: NotebookLookup;
  /** Milliseconds between polls of the cluster while the panel is visible. */
  pollMillis?: number;
  /**
   * Opens a notebook and, given a cell id, makes that cell the active one, in view (the
   * plugin's: JupyterLab's); rejects, saying why, when the notebook cannot be opened.
   */
  openCell?: (notebook: string, cellId: string | null) => Promise<OpenCellOutcome>;
  /** The notebooks open in this browser, whose cells' positions the cards show. */
  openNotebooks?: OpenNotebooks;
}

/** What opening a run's cell came to: the cell shown, the notebook only, or the cell gone from it. */
export type OpenCellOutcome = 'cell' | 'notebook' | 'cell-gone';

/** The notebooks open in this browser: their cells in the order shown, and when that changes. */
export interface OpenNotebooks {
  /** The ids of the cells of the notebook open at `path`, in order; undefined when it is not open (or still loading). */
  cellIds(path: string): string[] | undefined;
  /** Emitted when a notebook opens, loads, closes or is renamed, or its cells are added, removed or moved. */
  readonly changed: ISignal<OpenNotebooks, void>;
}

/** Revisions of one InferenceService, or why they could not be listed. */
type RevisionsState = { revisions: RevisionInfo[] } | { error: string };

/** A message in the panel: an error naming what failed, or a notice of what was done. */
interface Note {
  key: string;
  text: string;
}

export class RunsPanel extends Widget {
  constructor(options: RunsPanelOptions) {
    super();
    this._core = options.core;
    this._runs = options.runs;
    this._lookup = options.lookup;
    this._openCell = options.openCell;
    this._openNotebooks = options.openNotebooks;
    this._pollMillis = options.pollMillis ?? POLL_MILLIS;
    this.id = PANEL_ID;
    this.addClass('kaptain-panel');
    this.title.icon = kaptainIcon;
    this.title.caption = 'kaptain runs';
    this.node.appendChild(this.buildHeader());
    this._errorsNode = div('kaptain-panel-errors');
    this._noticesNode = div('kaptain-panel-notices');
    this._bodyNode = div('kaptain-panel-body');
    this._bodyNode.appendChild(div('kaptain-panel-loading', 'Looking for kaptain runs…'));
    this.node.append(this._errorsNode, this._noticesNode, this._bodyNode);
    this._runs.changed.connect(this.onRecordsChanged, this);
    this._openNotebooks?.changed.connect(this.onNotebooksChanged, this);
  }

  /** The namespace shown (and worked in), once known. */
  get namespace(): string | null {
    return this._namespace;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.stopPolling();
    if (this._changedTimer !== null) {
      clearTimeout(this._changedTimer);
    }
    if (this._placesTimer !== null) {
      clearTimeout(this._placesTimer);
    }
    this._runs.changed.disconnect(this.onRecordsChanged, this);
    this._openNotebooks?.changed.disconnect(this.onNotebooksChanged, this);
    super.dispose();
  }

  /**
   * Asks the cluster for the runs again (and the Revisions of deployments), then renders.
   * Concurrent calls share one request; a call during a request schedules one more after it.
   */
  refresh(): Promise<void> {
    if (this._refreshing) {
      this._refreshAgain = true;
      return this._refreshing;
    }
    this._refreshing = (async () => {
      try {
        do {
          this._refreshAgain = false;
          await this.fetchOnce();
        } while (this._refreshAgain && !this.isDisposed);
      } finally {
        this._refreshing = null;
      }
    })();
    return this._refreshing;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.startPolling();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.stopPolling();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this.startPolling();
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this.stopPolling();
    super.onBeforeDetach(msg);
  }

  // ------------------------------------------------------------------ polling

  private startPolling(): void {
    if (this._timer !== null) {
      return;
    }
    void this.refresh();
    this._timer = window.setInterval(() => {
      if (!document.hidden) {
        void this.refresh();
      }
    }, this._pollMillis);
  }

  private stopPolling(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private onRecordsChanged(_sender: IKaptainRuns, _record: RunRecord): void {
    // The record's state shows at once; the cluster is asked again shortly after (a run that
    // changed has likely created or deleted objects), once for a burst of changes.
    this.render();
    if (this._changedTimer === null && this.isVisible) {
      this._changedTimer = window.setTimeout(() => {
        this._changedTimer = null;
        if (this.isVisible) {
          void this.refresh();
        }
      }, 750);
    }
  }

  private onNotebooksChanged(): void {
    // Cells' positions, redrawn once for a burst of changes (a notebook loading adds its cells
    // one by one); nothing is asked of the cluster.
    if (this._placesTimer === null && this.isVisible) {
      this._placesTimer = window.setTimeout(() => {
        this._placesTimer = null;
        this.render();
      }, 100);
    }
  }

  private async fetchOnce(): Promise<void> {
    let cluster: PanelClusterOptions;
    try {
      cluster = await this.clusterOptions();
    } catch (error) {
      this.setError('list', `Could not reach the kaptain server extension: ${errorMessage(error)}`);
      this.render();
      return;
    }
    try {
      const wasm = await this._core.wasm();
      const runs = await wasm.runs({ ...cluster, ...(await this.whose()) });
      this._cluster = runs;
      this._loaded = true;
      this.clearError('list');
      // The Revisions behind each deployment, one request per InferenceService.
      const services = new Set<string>();
      for (const run of runs) {
        for (const o of run.objects) {
          if (o.serving) {
            services.add(o.name);
          }
        }
      }
      const revisions = new Map<string, RevisionsState>();
      await Promise.all(
        [...services].map(async name => {
          try {
            revisions.set(name, { revisions: await wasm.revisions(name, cluster) });
          } catch (error) {
            revisions.set(name, { error: `Could not list the Revisions of ${name}: ${errorMessage(error)}` });
          }
        })
      );
      this._revisions = revisions;
    } catch (error) {
      this.setError('list', `Could not list the kaptain runs in namespace ${this._namespace}: ${errorMessage(error)}`);
    }
    this.render();
  }

  private async clusterOptions(): Promise<PanelClusterOptions> {
    const cluster = await this._core.cluster();
    const namespace = cluster.namespace || 'default';
    if (namespace !== this._namespace) {
      this._namespace = namespace;
      this._namespaceNode.textContent = namespace;
    }
    return { ...cluster, namespace };
  }

  /** Whose runs the panel lists and sweeps: this server's, or every server's when asked. */
  private async whose(): Promise<WhoseOptions> {
    return { notebookServer: await this._core.notebookServer(), allServers: this._allServersInput.checked };
  }

  /** The runs as shown: the cluster's, merged with this browser's records. */
  panelRuns(): PanelRun[] {
    return mergeRuns(this._cluster, this._runs.runs, this._namespace ?? 'default', Date.now());
  }

  // ------------------------------------------------------------------ rendering

  private buildHeader(): HTMLElement {
    const header = div('kaptain-panel-header');
    const top = div('kaptain-panel-title-row');
    const title = div('kaptain-panel-title', 'kaptain runs');
    const refresh = iconButton('refresh', refreshIcon, 'Refresh: ask the cluster for the runs again');
    refresh.addEventListener('click', () => void this.refresh());
    top.append(title, refresh);

    const ns = div('kaptain-panel-namespace');
    ns.append('namespace ');
    this._namespaceNode = document.createElement('code');
    this._namespaceNode.textContent = '…';
    ns.appendChild(this._namespaceNode);
    // Other notebook servers share the namespace (a Kubeflow profile, a hub's users): their runs
    // are theirs, shown and swept here only when asked for.
    const whose = document.createElement('label');
    whose.className = 'kaptain-panel-whose';
    whose.title = "Show (and sweep) the runs every notebook server in this namespace started, not only this server's";
    this._allServersInput = document.createElement('input');
    this._allServersInput.type = 'checkbox';
    this._allServersInput.name = 'all-servers';
    this._allServersInput.addEventListener('change', () => void this.refresh());
    whose.append(this._allServersInput, ' all notebook servers');
    ns.appendChild(whose);

    const sweep = div('kaptain-panel-sweep');
    sweep.appendChild(div('kaptain-panel-sweep-label', 'Sweep orphaned runs and runs that ended more than'));
    const controls = div('kaptain-panel-sweep-controls');
    this._hoursInput = document.createElement('input');
    this._hoursInput.type = 'number';
    this._hoursInput.name = 'sweep-older-than-hours';
    this._hoursInput.min = '0';
    this._hoursInput.step = 'any';
    this._hoursInput.value = '24';
    this._hoursInput.title = 'Hours since a run ended (a run whose job still works is never swept by age)';
    this._hoursInput.setAttribute('aria-label', 'Sweep runs that ended more than (hours ago)');
    const sweepButton = button(
      'sweep',
      'Sweep…',
      'Delete what runs left behind (never a deployment): runs whose notebook or cell is gone, ' +
        'and runs that ended longer ago than the hours given (never one whose job still works). Shows what it will delete first.'
    );
    sweepButton.addEventListener('click', () => void this.sweep(sweepButton));
    controls.append(this._hoursInput, span('kaptain-panel-unit', 'hours'), sweepButton);
    sweep.appendChild(controls);

    header.append(top, ns, sweep);
    return header;
  }

  /** Renders the runs; rebuilds the list only when what it shows changed (ages update in place). */
  private render(): void {
    this.renderNotes();
    if (!this._loaded) {
      return;
    }
    const runs = this.panelRuns();
    const places = new Map(runs.map(r => [r.runId, this.placeOf(r)]));
    const key = JSON.stringify({
      runs: runs.map(r => ({ ...r, ageSeconds: undefined })),
      places: [...places],
      revisions: [...this._revisions],
      busy: [...this._busy],
      namespace: this._namespace
    });
    if (key !== this._renderedKey) {
      this._renderedKey = key;
      this._bodyNode.replaceChildren(...this.renderRuns(runs, places));
    }
    const ages = new Map(runs.map(r => [r.runId, r.ageSeconds]));
    for (const node of Array.from(this._bodyNode.querySelectorAll<HTMLElement>('.kaptain-panel-run'))) {
      const age = ages.get(node.dataset.runId ?? '');
      const ageNode = node.querySelector('.kaptain-panel-age');
      if (age !== undefined && ageNode) {
        ageNode.textContent = formatAge(age);
      }
    }
  }

  /**
   * How a run's card names its notebook and cell; null for a run from no notebook. Positions
   * only for this server's runs in notebooks open here: another server's notebook of the same
   * path is not this one.
   */
  private placeOf(run: PanelRun): RunPlace | null {
    if (!run.notebook) {
      return null;
    }
    const open = run.ours ? this._openNotebooks?.cellIds(run.notebook) : undefined;
    return runPlace(run.notebook, run.cellId, open);
  }

  private renderRuns(runs: PanelRun[], places: Map<string, RunPlace | null>): HTMLElement[] {
    if (runs.length === 0) {
      const empty = div('kaptain-panel-empty');
      const lead = document.createElement('p');
      lead.append(this._allServersInput.checked ? 'No kaptain runs in namespace ' : 'No kaptain runs of this notebook server in namespace ');
      lead.appendChild(code(this._namespace ?? 'default'));
      lead.append('.');
      const how = document.createElement('p');
      how.append('Write a cell that starts with ');
      how.appendChild(code('%%kaptain train'));
      how.append(' (or ');
      how.appendChild(code('build'));
      how.append(', ');
      how.appendChild(code('tune'));
      how.append(', ');
      how.appendChild(code('deploy'));
      how.append(') followed by the model in YAML, and run it: the objects it creates in the cluster appear here, ' +
        'with their state, until they are cleaned up.');
      const example = document.createElement('pre');
      example.className = 'kaptain-panel-example';
      example.textContent =
        '%%kaptain train\nmodel:\n  id: dev/mnist\n  framework: tensorflow\n  main_file: trainer.py\n  image_name: registry.example.com/dev/mnist';
      empty.append(lead, how, example);
      return [empty];
    }
    return groupRuns(runs).map(group => {
      const section = div('kaptain-panel-notebook');
      section.dataset.notebook = group.notebook ?? '';
      const title = div('kaptain-panel-notebook-title');
      const notebook = group.notebook;
      if (notebook !== null) {
        // The notebook's name first, its directory after it, dimmed: what a narrow panel cuts
        // is the directory. The whole path on hover; a link when it is this server's notebook.
        const ours = group.cells.some(c => c.runs.some(r => r.ours));
        const name = span('kaptain-panel-notebook-name', PathExt.basename(notebook));
        title.append(ours ? this.cellLink(name, notebook, null) : name);
        const dir = PathExt.dirname(notebook);
        if (dir) {
          title.append(span('kaptain-panel-notebook-dir', dir));
        }
        title.title = notebook;
      } else {
        title.textContent = 'Not from a notebook';
        title.title = 'Runs whose objects name no notebook, e.g. started by the kaptain CLI';
      }
      section.appendChild(title);
      for (const cell of group.cells) {
        // The runs of one cell together; each card names the cell (its notebook and position).
        const cellNode = div('kaptain-panel-cell');
        cellNode.dataset.cellId = cell.cellId ?? '';
        for (const run of cell.runs) {
          cellNode.appendChild(this.renderRun(run, places.get(run.runId) ?? null));
        }
        section.appendChild(cellNode);
      }
      return section;
    });
  }

  /**
   * Makes `node` open the notebook (and make the cell the active one, in view) when clicked or
   * on Enter; says so in the panel when the notebook cannot be opened or the cell is gone.
   */
  private cellLink(node: HTMLElement, notebook: string, cellId: string | null): HTMLElement {
    const open = this._openCell;
    if (!open) {
      return node;
    }
    node.classList.add('kaptain-mod-link');
    node.dataset.action = cellId ? 'open-cell' : 'open-notebook';
    node.tabIndex = 0;
    node.setAttribute('role', 'link');
    const key = `open:${notebook}`;
    const go = () => {
      this.clearError(key);
      this._notices = this._notices.filter(n => n.key !== key);
      this.renderNotes();
      void open(notebook, cellId).then(
        outcome => {
          if (outcome === 'cell-gone') {
            this.notice(
              key,
              `The cell this run came from is no longer in ${fileName(notebook)}: it was deleted, or the ` +
                `notebook was replaced (cell id ${cellId}). The notebook is open.`
            );
          }
          // The open notebook's positions replace the name alone.
          this.render();
        },
        error => this.setError(key, `Could not open ${notebook}: ${errorMessage(error)}`)
      );
    };
    node.addEventListener('click', go);
    node.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        go();
      }
    });
    return node;
  }

  private renderRun(run: PanelRun, place: RunPlace | null = null): HTMLElement {
    const node = div('kaptain-panel-run');
    node.dataset.runId = run.runId;
    node.dataset.step = run.step;
    node.dataset.status = run.status;
    node.classList.add(`kaptain-mod-${statusClass(run.status)}`);

    const head = div('kaptain-panel-run-head');
    const step = span('kaptain-panel-step', run.step || '?');
    const id = span('kaptain-panel-run-id', run.runId);
    id.title = `run ${run.runId}${run.modelId ? `, model ${run.modelId}` : ''}${run.local ? ', started in this browser' : ''}`;
    const age = span('kaptain-panel-age', formatAge(run.ageSeconds));
    age.title = 'Since its newest object was created';
    const busy = this._busy.has(`cleanup:${run.runId}`);
    const cleanup = button(
      'cleanup',
      busy ? 'Cleaning…' : 'Clean up',
      run.live
        ? 'Stop following the run and delete every object of it'
        : 'Delete every object of the run, the deployment included'
    );
    cleanup.disabled = busy;
    cleanup.addEventListener('click', () => void this.cleanupRun(run));
    head.append(step, id, age);
    node.appendChild(head);
    if (place !== null && run.notebook) {
      // Where the run came from: the notebook's name and the cell's position, a link to the
      // cell for this server's runs (another server's notebook of that path is not this one).
      const where = span('kaptain-panel-run-cell', place.text);
      where.title = place.title;
      where.dataset.position = place.position === null ? '' : String(place.position);
      const line = div('kaptain-panel-run-place');
      line.appendChild(run.ours ? this.cellLink(where, run.notebook, run.cellId) : where);
      node.appendChild(line);
    }

    const meta = div('kaptain-panel-run-meta');
    const text = span('kaptain-panel-run-meta-text');
    text.appendChild(span('kaptain-panel-status', run.status));
    const elsewhere = run.ours ? '' : run.server ? `server ${run.server}` : 'not from a notebook server';
    for (const part of [run.modelId && `model ${run.modelId}`, run.local ? 'this browser' : '', elsewhere, run.message]) {
      if (part) {
        text.append(' · ', part);
      }
    }
    text.title = text.textContent ?? '';
    meta.append(text, cleanup);
    node.appendChild(meta);

    const list = document.createElement('ul');
    list.className = 'kaptain-panel-objects';
    if (run.objects.length === 0) {
      const li = document.createElement('li');
      li.className = 'kaptain-panel-objects-none';
      li.textContent = run.live ? 'No objects created yet' : 'No objects left';
      list.appendChild(li);
    }
    for (const object of run.objects) {
      list.appendChild(this.renderObject(object));
    }
    node.appendChild(list);

    const service = inferenceServiceOf(run);
    if (service) {
      node.appendChild(this.renderRevisions(service));
    }
    return node;
  }

  private renderObject(object: PanelObject): HTMLElement {
    const li = document.createElement('li');
    li.className = 'kaptain-panel-object';
    li.dataset.kind = object.kind;
    li.dataset.name = object.name;
    const line = div('kaptain-panel-object-line');
    const kind = span('kaptain-panel-kind', object.kind);
    const state = span('kaptain-panel-state', object.state || '');
    state.classList.add(`kaptain-mod-${statusClass(object.state)}`);
    line.append(kind, state);
    const name = div('kaptain-panel-name', object.name);
    li.append(line, name);
    if (object.inCluster) {
      const actions = span('kaptain-panel-object-actions');
      const yaml = iconButton('yaml', codeIcon, `Show ${object.kind} ${object.name} as YAML (Secret values hidden)`);
      yaml.addEventListener('click', () => void this.showYaml(object));
      const busy = this._busy.has(`delete:${object.kind}/${object.name}`);
      const del = iconButton('delete', deleteIcon, `Delete ${object.kind} ${object.name}`);
      del.classList.add('kaptain-mod-warn');
      del.disabled = busy;
      del.addEventListener('click', () => void this.deleteObject(object));
      actions.append(yaml, del);
      line.appendChild(actions);
    }
    return li;
  }

  private renderRevisions(service: string): HTMLElement {
    const box = div('kaptain-panel-revisions');
    box.dataset.inferenceService = service;
    box.appendChild(div('kaptain-panel-revisions-title', `Revisions of ${service}`));
    const state = this._revisions.get(service);
    if (!state) {
      box.appendChild(div('kaptain-panel-revisions-none', 'Looking for Revisions…'));
    } else if ('error' in state) {
      box.appendChild(div('kaptain-panel-error', state.error));
    } else if (state.revisions.length === 0) {
      box.appendChild(div('kaptain-panel-revisions-none', 'No Revisions yet (the serving controller creates them)'));
    } else {
      for (const revision of state.revisions) {
        const row = div('kaptain-panel-revision');
        row.dataset.name = revision.name;
        row.dataset.traffic = String(revision.traffic_percent);
        // The Knative Service's name is long and the same for every row: show what differs.
        const short = revision.name.startsWith(`${revision.service}-`)
          ? revision.name.slice(revision.service.length + 1)
          : revision.name;
        const name = span('kaptain-panel-name', short);
        name.title = `${revision.name} (Knative Service ${revision.service})`;
        const bar = span('kaptain-panel-traffic');
        const fill = span('kaptain-panel-traffic-fill');
        fill.style.width = `${Math.max(0, Math.min(100, revision.traffic_percent))}%`;
        bar.appendChild(fill);
        const percent = span('kaptain-panel-traffic-percent', `${revision.traffic_percent}%`);
        const flags = [revision.ready ? 'ready' : 'not ready', revision.latest_ready ? 'latest' : '']
          .filter(Boolean)
          .join(', ');
        const flagNode = span('kaptain-panel-revision-flags', flags);
        row.append(name, bar, percent, flagNode);
        box.appendChild(row);
      }
    }
    const busy = this._busy.has(`prune:${service}`);
    const prune = button(
      'prune',
      busy ? 'Pruning…' : 'Prune revisions without traffic',
      'Delete the Revisions that serve no traffic (never the latest ready one)'
    );
    prune.disabled = busy;
    prune.addEventListener('click', () => void this.prune(service));
    box.appendChild(div('kaptain-panel-revisions-actions')).appendChild(prune);
    return box;
  }

  private renderNotes(): void {
    const render = (node: HTMLElement, notes: Note[], className: string, list: Note[]) => {
      node.replaceChildren(
        ...notes.map(note => {
          const item = div(className);
          item.dataset.key = note.key;
          item.appendChild(span('kaptain-panel-note-text', note.text));
          const close = document.createElement('button');
          close.className = 'kaptain-panel-dismiss';
          close.title = 'Dismiss';
          close.textContent = '×';
          close.addEventListener('click', () => {
            const at = list.findIndex(n => n.key === note.key);
            if (at >= 0) {
              list.splice(at, 1);
            }
            this.renderNotes();
          });
          item.appendChild(close);
          return item;
        })
      );
    };
    render(this._errorsNode, this._errors, 'kaptain-panel-error', this._errors);
    render(this._noticesNode, this._notices, 'kaptain-panel-notice', this._notices);
  }

  private setError(key: string, text: string): void {
    this._errors = [...this._errors.filter(e => e.key !== key), { key, text }];
    this.renderNotes();
  }

  private clearError(key: string): void {
    this._errors = this._errors.filter(e => e.key !== key);
  }

  private notice(key: string, text: string): void {
    this._notices = [...this._notices.filter(n => n.key !== key), { key, text }].slice(-3);
    this.renderNotes();
  }

  // ------------------------------------------------------------------ actions

  /** Runs an action with its button marked busy; shows a failure in the panel, named. */
  private async act(busyKey: string, what: string, action: () => Promise<void>): Promise<void> {
    this._busy.add(busyKey);
    this.clearError(busyKey);
    this.render();
    try {
      await action();
    } catch (error) {
      this.setError(busyKey, `Could not ${what}: ${errorMessage(error)}`);
    } finally {
      this._busy.delete(busyKey);
      this.render();
    }
    await this.refresh();
  }

  private async cleanupRun(run: PanelRun): Promise<void> {
    const body = div('kaptain-panel-dialog');
    body.appendChild(
      paragraph(
        run.live
          ? `Run ${run.runId} is still running in this browser. Cleaning it up stops it and deletes every object of it:`
          : `Delete every object of run ${run.runId}${run.objects.some(o => o.serving) ? ', the deployment included' : ''}:`
      )
    );
    body.appendChild(objectList(run.objects.map(o => `${o.kind} ${o.name}`)));
    const result = await showDialog({
      title: `Clean up run ${run.runId}?`,
      body: widgetOf(body),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Clean up' })]
    });
    if (!result.button.accept) {
      return;
    }
    await this.act(`cleanup:${run.runId}`, `clean up run ${run.runId}`, async () => {
      if (run.local && this._runs.get(run.runId)) {
        await this._runs.cleanup(run.runId);
        this.notice(`cleanup:${run.runId}`, `Run ${run.runId} cleaned up.`);
        return;
      }
      const cluster = await this.clusterOptions();
      const report = await (await this._core.wasm()).cleanup(run.runId, cluster);
      const remaining = report.remaining.map(([o, why]) => `${o.kind} ${o.name} (${why})`);
      this.notice(
        `cleanup:${run.runId}`,
        `Run ${run.runId}: ${report.deleted.length} object(s) deleted.`
      );
      if (remaining.length > 0) {
        throw new Error(`not confirmed gone: ${remaining.join(', ')}`);
      }
    });
  }

  private async deleteObject(object: PanelObject): Promise<void> {
    const result = await showDialog({
      title: `Delete ${object.kind} ${object.name}?`,
      body:
        object.serving
          ? 'This deletes the deployment: its Knative Service and Revisions go with it.'
          : `Objects that belong to it (e.g. its pods) go with it.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept) {
      return;
    }
    const ref = `${object.kind}/${object.name}`;
    await this.act(`delete:${ref}`, `delete ${object.kind} ${object.name}`, async () => {
      const cluster = await this.clusterOptions();
      await (await this._core.wasm()).deleteObject(object.kind as InspectableKind, object.name, cluster);
      this.notice(`delete:${ref}`, `Deleted ${object.kind} ${object.name}.`);
    });
  }

  private async showYaml(object: PanelObject): Promise<void> {
    const key = `yaml:${object.kind}/${object.name}`;
    let yaml: string;
    try {
      const cluster = await this.clusterOptions();
      yaml = await (await this._core.wasm()).objectYaml(object.kind as InspectableKind, object.name, cluster);
      this.clearError(key);
      this.renderNotes();
    } catch (error) {
      this.setError(key, `Could not show the YAML of ${object.kind} ${object.name}: ${errorMessage(error)}`);
      return;
    }
    // Shown, never stored: a Secret's values are hidden by the core, and nothing is cached.
    const pre = document.createElement('pre');
    pre.className = 'kaptain-yaml';
    pre.textContent = yaml;
    await showDialog({
      title: `${object.kind} ${object.name}`,
      body: widgetOf(pre, 'kaptain-yaml-dialog'),
      buttons: [Dialog.okButton({ label: 'Close' })]
    });
  }

  private async prune(service: string): Promise<void> {
    const state = this._revisions.get(service);
    // What the core will delete, as it decided it (pruneRevisions asks the cluster again).
    const idle = state && 'revisions' in state ? state.revisions.filter(r => r.prunable).map(r => r.name) : [];
    const body = div('kaptain-panel-dialog');
    body.appendChild(
      paragraph(
        idle.length > 0
          ? `Delete the Revisions of ${service} that serve no traffic (the latest ready one, one still rolling out and any with traffic stay):`
          : `No Revision of ${service} is known to be idle; the cluster is asked again and only those without traffic are deleted.`
      )
    );
    if (idle.length > 0) {
      body.appendChild(objectList(idle));
    }
    const result = await showDialog({
      title: `Prune Revisions of ${service}?`,
      body: widgetOf(body),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Prune' })]
    });
    if (!result.button.accept) {
      return;
    }
    await this.act(`prune:${service}`, `prune the Revisions of ${service}`, async () => {
      const cluster = await this.clusterOptions();
      const pruned = await (await this._core.wasm()).pruneRevisions(service, cluster);
      this.notice(
        `prune:${service}`,
        pruned.deleted.length > 0
          ? `Pruned ${service}: deleted ${pruned.deleted.join(', ')}; kept ${pruned.kept.join(', ') || 'none'}.`
          : `Nothing to prune in ${service}: every Revision left serves traffic or is the latest.`
      );
    });
  }

  /**
   * Sweep: finds orphans (notebook or cell gone), asks the core what a sweep of them and of
   * the runs that ended longer ago than the hours given would delete (dry run), shows it, and on confirmation
   * sweeps exactly the runs shown. Runs this browser is following are left out.
   */
  private async sweep(trigger: HTMLButtonElement): Promise<void> {
    const key = 'sweep';
    const olderThanSeconds = hoursToSeconds(this._hoursInput.value);
    if (olderThanSeconds === undefined) {
      this.setError(key, `Could not sweep: "${this._hoursInput.value}" is not a number of hours above 0.`);
      return;
    }
    const hours = this._hoursInput.value.trim();
    trigger.disabled = true;
    this.clearError(key);
    this.renderNotes();
    try {
      const cluster = await this.clusterOptions();
      const wasm = await this._core.wasm();
      const whose = await this.whose();
      this._cluster = await wasm.runs({ ...cluster, ...whose });
      this._loaded = true;
      const runs = this.panelRuns();
      const report = await findOrphans(runs, this._lookup);
      for (const failed of report.errors) {
        this.setError(
          `sweep:${failed.notebook}`,
          `Could not check whether ${failed.notebook} still exists (its runs are not swept as orphans): ${failed.message}`
        );
      }
      const reasons = new Map<string, string>(report.orphans.map((o: Orphan) => [o.runId, o.reason]));
      const live = new Set(runs.filter(r => r.live).map(r => r.runId));
      const plan = (
        await wasm.sweep({ ...cluster, ...whose, runIds: [...reasons.keys()], olderThanSeconds, dryRun: true })
      ).filter(s => !live.has(s.run_id) && s.deleted.length > 0);
      if (plan.length === 0) {
        this.notice(key, `Nothing to sweep: no orphaned run, and none that ended more than ${hours} h ago with objects to delete.`);
        return;
      }
      const result = await showDialog({
        title: 'Sweep these runs?',
        body: widgetOf(sweepPlanNode(plan, reasons, hours)),
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Sweep' })]
      });
      if (!result.button.accept) {
        return;
      }
      const swept = await wasm.sweep({
        ...cluster,
        ...whose,
        // Exactly the runs shown (not the age again: a run that crossed it since, or one
        // this browser follows, was not confirmed).
        runIds: plan.map(s => s.run_id),
        dryRun: false
      });
      const deleted = swept.reduce((n, s) => n + s.deleted.length, 0);
      this.notice(key, `Swept ${swept.length} run(s): ${deleted} object(s) deleted.`);
    } catch (error) {
      this.setError(key, `Could not sweep: ${errorMessage(error)}`);
    } finally {
      trigger.disabled = false;
    }
    await this.refresh();
  }

  private _core: IKaptainCore;
  private _runs: IKaptainRuns;
  private _lookup: NotebookLookup;
  private _openCell?: (notebook: string, cellId: string | null) => Promise<OpenCellOutcome>;
  private _openNotebooks?: OpenNotebooks;
  private _placesTimer: number | null = null;
  private _pollMillis: number;
  private _namespace: string | null = null;
  private _namespaceNode!: HTMLElement;
  private _allServersInput!: HTMLInputElement;
  private _hoursInput!: HTMLInputElement;
  private _errorsNode: HTMLElement;
  private _noticesNode: HTMLElement;
  private _bodyNode: HTMLElement;
  private _cluster: RunSummary[] = [];
  private _revisions = new Map<string, RevisionsState>();
  private _loaded = false;
  private _busy = new Set<string>();
  private _errors: Note[] = [];
  private _notices: Note[] = [];
  private _renderedKey = '';
  private _timer: number | null = null;
  private _changedTimer: number | null = null;
  private _refreshing: Promise<void> | null = null;
  private _refreshAgain = false;
}

// ------------------------------------------------------------------ small DOM helpers

function div(className: string, text?: string): HTMLDivElement {
  const node = document.createElement('div');
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function span(className: string, text?: string): HTMLSpanElement {
  const node = document.createElement('span');
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function code(text: string): HTMLElement {
  const node = document.createElement('code');
  node.textContent = text;
  return node;
}

function paragraph(text: string): HTMLParagraphElement {
  const node = document.createElement('p');
  node.textContent = text;
  return node;
}

function button(action: string, label: string, title: string): HTMLButtonElement {
  const node = document.createElement('button');
  node.type = 'button';
  node.className = 'kaptain-panel-button';
  node.dataset.action = action;
  node.title = title;
  node.textContent = label;
  return node;
}

function iconButton(action: string, icon: LabIcon, title: string): HTMLButtonElement {
  const node = button(action, '', title);
  node.classList.add('kaptain-panel-icon-button');
  node.setAttribute('aria-label', title);
  node.appendChild(icon.element({ tag: 'span', elementSize: 'normal' }));
  return node;
}

function objectList(items: string[]): HTMLUListElement {
  const list = document.createElement('ul');
  list.className = 'kaptain-panel-dialog-list';
  for (const item of items) {
    const li = document.createElement('li');
    li.textContent = item;
    list.appendChild(li);
  }
  return list;
}

function widgetOf(node: HTMLElement, className?: string): Widget {
  const widget = new Widget({ node });
  if (className) {
    widget.addClass(className);
  }
  return widget;
}

function sweepPlanNode(plan: SweptRun[], reasons: Map<string, string>, hours: string): HTMLElement {
  const body = div('kaptain-panel-dialog kaptain-panel-sweep-plan');
  body.appendChild(paragraph('These objects will be deleted. Deployments (InferenceService and its credentials) are kept.'));
  for (const run of plan) {
    const item = div('kaptain-panel-sweep-run');
    item.dataset.runId = run.run_id;
    const why = reasons.get(run.run_id) ?? `ended more than ${hours} h ago`;
    const head = document.createElement('div');
    head.appendChild(span('kaptain-panel-run-id', run.run_id));
    head.append(` — ${why}`);
    item.appendChild(head);
    item.appendChild(objectList(run.deleted.map(o => `delete ${o.kind} ${o.name}`).concat(run.kept.map(o => `keep ${o.kind} ${o.name}`))));
    body.appendChild(item);
  }
  return body;
}

/** A CSS modifier for a status or state. */
function statusClass(status: string): string {
  const s = status.toLowerCase();
  if (['succeeded', 'ready', 'complete', 'completed'].includes(s)) {
    return 'ok';
  }
  if (['failed', 'error'].includes(s)) {
    return 'failed';
  }
  if (['running', 'starting', 'cleaning', 'pending', 'created', 'restarting'].includes(s)) {
    return 'active';
  }
  return 'other';
}

/** Whether the contents manager's rejection means "no such file". */
function isNotFound(error: unknown): boolean {
  if (error instanceof ServerConnection.ResponseError) {
    return error.response.status === 404;
  }
  return /\b404\b|not found/i.test(errorMessage(error));
}

/** What showCell needs of a notebook widget (JupyterLab 4.2's API and later). */
export type CellShower = Pick<Notebook, 'widgets' | 'activeCellIndex' | 'deselectAll' | 'scrollToItem'>;

/**
 * Makes the cell whose id is `cellId` the active one of `notebook`, alone selected, and
 * scrolls it to the middle, as the table of contents does; false when no cell has that id.
 */
export async function showCell(notebook: CellShower, cellId: string): Promise<boolean> {
  const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
  if (index < 0) {
    return false;
  }
  notebook.activeCellIndex = index;
  notebook.deselectAll();
  await notebook.scrollToItem(index, 'center');
  return true;
}

/**
 * Opens `path` as a notebook (or shows it, when open), activates it and, given a cell id,
 * makes that cell the active one, in view. Rejects saying why when the notebook is gone.
 */
async function openCell(app: JupyterFrontEnd, path: string, cellId: string | null): Promise<OpenCellOutcome> {
  let widget: unknown;
  try {
    // JupyterLab's own command: it asks the contents API first, then opens or reveals.
    widget = await app.commands.execute('docmanager:open', { path, factory: 'Notebook' });
  } catch (error) {
    throw isNotFound(error) ? new Error('it no longer exists') : error;
  }
  if (!(widget instanceof NotebookPanel)) {
    throw new Error('it did not open as a notebook');
  }
  await widget.context.ready;
  await widget.revealed;
  app.shell.activateById(widget.id);
  if (cellId === null) {
    return 'notebook';
  }
  return (await showCell(widget.content, cellId)) ? 'cell' : 'cell-gone';
}

/**
 * OpenNotebooks over JupyterLab's notebook tracker: a notebook counts once its file is loaded;
 * `changed` follows each one's loading, renaming, cells and closing.
 */
export class TrackedNotebooks implements OpenNotebooks {
  constructor(tracker: INotebookTracker) {
    this._tracker = tracker;
    tracker.forEach(panel => this.watch(panel));
    tracker.widgetAdded.connect((_, panel) => this.watch(panel));
  }

  get changed(): ISignal<OpenNotebooks, void> {
    return this._changed;
  }

  cellIds(path: string): string[] | undefined {
    const panel = this._tracker.find(p => !p.isDisposed && p.context.isReady && p.context.path === path);
    const model = panel?.content.model;
    if (!model) {
      return undefined;
    }
    const ids: string[] = [];
    for (const cell of model.cells) {
      ids.push(cell.id);
    }
    return ids;
  }

  private watch(panel: NotebookPanel): void {
    const emit = () => this._changed.emit();
    void panel.context.ready.then(emit, () => undefined);
    panel.context.pathChanged.connect(emit);
    panel.disposed.connect(emit);
    const follow = () => panel.content.model?.cells.changed.connect(emit);
    follow();
    panel.content.modelChanged.connect(() => {
      follow();
      emit();
    });
    emit();
  }

  private _tracker: INotebookTracker;
  private _changed = new Signal<OpenNotebooks, void>(this);
}

/**
 * A NotebookLookup over the contents API, completed by the cells of open notebooks (unsaved):
 * an open notebook's cells come first, in the order it shows them.
 */
export function contentsLookup(contents: Contents.IManager, tracker: INotebookTracker | null): NotebookLookup {
  return async (path: string) => {
    const open: string[] = [];
    tracker?.forEach(panel => {
      if (panel.context.path === path && panel.content.model) {
        for (const cell of panel.content.model.cells) {
          open.push(cell.id);
        }
      }
    });
    try {
      const model = await contents.get(path, { content: true });
      const saved = notebookCellIds(model.content).filter(id => !open.includes(id));
      return { cellIds: [...open, ...saved] };
    } catch (error) {
      if (isNotFound(error)) {
        return open.length > 0 ? { cellIds: open } : null;
      }
      throw error;
    }
  };
}

export namespace CommandIDs {
  export const open = 'kaptain:open-runs-panel';
  export const refresh = 'kaptain:refresh-runs-panel';
}

export const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'kaptain-jupyterlab:panel',
  description: 'The kaptain runs sidebar: runs by notebook and cell, their objects, cleanup and sweep.',
  autoStart: true,
  requires: [IKaptainCore, IKaptainRuns],
  optional: [ILabShell, ILayoutRestorer, ICommandPalette, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    core: IKaptainCore,
    runs: IKaptainRuns,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    tracker: INotebookTracker | null
  ) => {
    const panel = new RunsPanel({
      core,
      runs,
      lookup: contentsLookup(app.serviceManager.contents, tracker),
      openCell: (notebook, cellId) => openCell(app, notebook, cellId),
      openNotebooks: tracker ? new TrackedNotebooks(tracker) : undefined
    });
    app.shell.add(panel, 'left', { rank: 650 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(CommandIDs.open, {
      label: 'Show kaptain Runs',
      caption: 'Show the kaptain runs panel',
      icon: kaptainIcon,
      execute: () => {
        if (labShell) {
          labShell.activateById(PANEL_ID);
        } else {
          app.shell.activateById(PANEL_ID);
        }
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh kaptain Runs',
      caption: 'Ask the cluster for the kaptain runs again',
      execute: () => panel.refresh()
    });
    palette?.addItem({ command: CommandIDs.open, category: 'kaptain' });
    palette?.addItem({ command: CommandIDs.refresh, category: 'kaptain' });
  }
};

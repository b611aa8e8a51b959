// Interrupt detection (DESIGN §5): no single signal covers every route, so every hook that
// can tell "the kernel of notebook N was interrupted, restarted or shut down" calls
// IKaptainRuns.interrupt(N). The runs model makes that happen once per run however many
// hooks fire (the toolbar button fires the command, then the server's event, ...).
//
// Routes and the hook that sees them (command ids checked against JupyterLab 4.5's
// notebook-extension and mainmenu-extension):
//   toolbar stop button           -> command notebook:interrupt-kernel (panel.json toolbar item)
//   Kernel menu > Interrupt, I,I  -> command kernelmenu:interrupt (semantic: runs notebook:interrupt-kernel)
//   command palette               -> either command
//   another tab / client, REST    -> server event kernel_actions/v1 {action, kernel_id, status}
//   restart (menu, toolbar, 0,0,  -> kernel status "restarting" on the panel's session context,
//     restart & run all, ...)        the server event, and notebook:restart-kernel's result (true)
//   shut down, change kernel      -> commands notebook:shutdown-kernel / kernelmenu:shutdown[All],
//                                    kernelChanged / sessionChanged losing the kernel, kernel
//                                    status "dead", the server event
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { ISessionContext } from '@jupyterlab/apputils';

export const KERNEL_ACTIONS_SCHEMA = 'https://events.jupyter.org/jupyter_server/kernel_actions/v1';

/** Commands that interrupt the kernel of the notebook they act on, at once. */
export const INTERRUPT_COMMANDS: readonly string[] = ['notebook:interrupt-kernel', 'kernelmenu:interrupt'];
/** Commands that shut the kernel down (no confirmation dialog). */
export const SHUTDOWN_COMMANDS: readonly string[] = ['notebook:shutdown-kernel', 'kernelmenu:shutdown'];
/** Shuts every kernel down. */
export const SHUTDOWN_ALL_COMMANDS: readonly string[] = ['kernelmenu:shutdownAll'];
/**
 * Commands that restart after a confirmation dialog; their result is true when the user
 * confirmed. (Restart-and-clear / -run-all variants are caught by the kernel status.)
 */
export const RESTART_COMMANDS: readonly string[] = ['notebook:restart-kernel', 'kernelmenu:restart'];
/** Kernel statuses that end what the kernel was running. */
export const LOST_STATUSES: readonly string[] = ['restarting', 'autorestarting', 'dead', 'terminating'];

/** What the router calls: IKaptainRuns.interrupt (with the RunsModel's `before`). */
export interface InterruptTarget {
  interrupt(notebook: string, why: string, options?: { before?: number }): Promise<void>;
  live(): { notebook: string }[];
}

/** Where the router finds notebooks: the open notebook panels and the server's sessions. */
export interface NotebookResolver {
  /** The notebook a notebook/kernel-menu command acts on; null when it acts on no notebook. */
  forCommand(id: string, args: Record<string, unknown>): string | null;
  /** The notebooks whose session runs the kernel. */
  forKernel(kernelId: string): Promise<string[]>;
}

/** Turns what the hooks see into interrupt(notebook) calls. Pure apart from its two ports. */
export class InterruptRouter {
  constructor(
    private target: InterruptTarget,
    private resolver: NotebookResolver,
    private now: () => number = Date.now
  ) {}

  /** `app.commands.commandExecuted`. */
  command(id: string, args: Record<string, unknown> = {}, result?: Promise<unknown>): void {
    if (!this.target.live().length) {
      return;
    }
    if (SHUTDOWN_ALL_COMMANDS.includes(id)) {
      this.interruptAll(`${id}`);
      return;
    }
    const immediate = INTERRUPT_COMMANDS.includes(id) || SHUTDOWN_COMMANDS.includes(id);
    const confirmed = RESTART_COMMANDS.includes(id);
    if (!immediate && !confirmed) {
      return;
    }
    const notebook = this.resolver.forCommand(id, args);
    if (!notebook) {
      return;
    }
    const before = this.now();
    if (immediate) {
      void this.target.interrupt(notebook, id, { before });
    } else if (result) {
      void result.then(
        value => {
          if (value === true) {
            void this.target.interrupt(notebook, id, { before });
          }
        },
        () => undefined
      );
    }
  }

  /** `app.serviceManager.events.stream`: the server's kernel actions, from any client. */
  async serverEvent(emission: Record<string, unknown>): Promise<void> {
    if (emission.schema_id !== KERNEL_ACTIONS_SCHEMA) {
      return;
    }
    const action = emission.action;
    const kernelId = emission.kernel_id;
    if (
      (action !== 'interrupt' && action !== 'restart' && action !== 'shutdown') ||
      emission.status === 'error' ||
      typeof kernelId !== 'string' ||
      !this.target.live().length
    ) {
      return;
    }
    const before = this.now();
    const notebooks = await this.resolver.forKernel(kernelId);
    await Promise.all(
      notebooks.map(notebook => this.target.interrupt(notebook, `kernel ${action} (server event)`, { before }))
    );
  }

  /** A notebook's session context reported a kernel status. */
  kernelStatus(notebook: string, status: string): void {
    if (LOST_STATUSES.includes(status) && this.target.live().length) {
      void this.target.interrupt(notebook, `kernel ${status}`, { before: this.now() });
    }
  }

  /** A notebook's session context lost its kernel (changed or shut down). */
  kernelLost(notebook: string, why: string): void {
    if (this.target.live().length) {
      void this.target.interrupt(notebook, why, { before: this.now() });
    }
  }

  private interruptAll(why: string): void {
    const before = this.now();
    for (const notebook of new Set(this.target.live().map(r => r.notebook))) {
      void this.target.interrupt(notebook, why, { before });
    }
  }
}

/** The notebook path kaptain records runs under. */
export function notebookPath(panel: NotebookPanel): string {
  return panel.context.localPath;
}

/** Wires the router to JupyterLab's commands, the server's events and every notebook's session. */
export function installInterruptHooks(
  app: JupyterFrontEnd,
  tracker: INotebookTracker | null,
  runs: InterruptTarget
): InterruptRouter {
  const panels = (): NotebookPanel[] => {
    const all: NotebookPanel[] = [];
    tracker?.forEach(panel => all.push(panel));
    return all;
  };
  const resolver: NotebookResolver = {
    forCommand(id, args) {
      if (!tracker) {
        return null;
      }
      // The notebook commands act on args.widgetId / args.semanticWidget, else the current one.
      const wanted = args.widgetId ?? args.semanticWidget;
      let panel: NotebookPanel | null | undefined = null;
      if (typeof wanted === 'string') {
        panel = tracker.find(p => p.id === wanted);
      } else if (id.startsWith('kernelmenu:')) {
        // The kernel menu acts on the shell's current widget, which may not be a notebook.
        const current = app.shell.currentWidget;
        panel = panels().find(p => p === current) ?? null;
      } else {
        panel = tracker.currentWidget;
      }
      return panel ? notebookPath(panel) : null;
    },
    async forKernel(kernelId) {
      const found = new Set<string>();
      for (const panel of panels()) {
        if (panel.sessionContext.session?.kernel?.id === kernelId) {
          found.add(notebookPath(panel));
        }
      }
      if (!found.size) {
        for (const session of app.serviceManager.sessions.running()) {
          if (session.kernel?.id === kernelId && session.path) {
            found.add(session.path);
          }
        }
      }
      return [...found];
    }
  };
  const router = new InterruptRouter(runs, resolver);

  app.commands.commandExecuted.connect((_, executed) => {
    router.command(executed.id, (executed.args ?? {}) as Record<string, unknown>, executed.result);
  });

  const events = app.serviceManager.events;
  if (events) {
    events.stream.connect((_, emission) => {
      void router.serverEvent(emission as unknown as Record<string, unknown>).catch(() => undefined);
    });
  }

  const watch = (panel: NotebookPanel) => {
    const context: ISessionContext = panel.sessionContext;
    const onStatus = (_: ISessionContext, status: string) => router.kernelStatus(notebookPath(panel), status);
    const onKernel = (_: ISessionContext, change: { oldValue: unknown; newValue: unknown }) => {
      if (change.oldValue && change.oldValue !== change.newValue) {
        router.kernelLost(notebookPath(panel), change.newValue ? 'kernel changed' : 'kernel shut down');
      }
    };
    const onSession = (_: ISessionContext, change: { oldValue: unknown; newValue: unknown }) => {
      if (change.oldValue && !change.newValue) {
        router.kernelLost(notebookPath(panel), 'session shut down');
      }
    };
    context.statusChanged.connect(onStatus);
    context.kernelChanged.connect(onKernel);
    context.sessionChanged.connect(onSession);
    panel.disposed.connect(() => {
      context.statusChanged.disconnect(onStatus);
      context.kernelChanged.disconnect(onKernel);
      context.sessionChanged.disconnect(onSession);
    });
  };
  tracker?.forEach(watch);
  tracker?.widgetAdded.connect((_, panel) => watch(panel));
  return router;
}

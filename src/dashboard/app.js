const api = (path, options = {}) =>
  fetch(path, {
    ...options,
    headers: {
      'content-type': 'application/json',
      'x-jobdeck-request': '1',
      ...(options.headers || {}),
    },
  }).then(async (r) => {
    if (r.status === 401) location.assign('/dashboard');
    const body = r.status === 204 ? null : await r.json();
    if (!r.ok) throw new Error(body.message);
    return body;
  });
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs))
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
const badge = (status) => el('span', { class: 'badge ' + status }, status);
let selected = null;

async function loadJobs() {
  const { jobs } = await api('/api/jobs');
  const table = document.getElementById('jobs');
  table.replaceChildren(
    ...jobs.map((job) => {
      const input = el('textarea', { rows: 2 }, '{}');
      const trigger = el(
        'button',
        {
          onclick: async () => {
            try {
              await api('/api/jobs/' + job.name + '/runs', {
                method: 'POST',
                body: JSON.stringify({ input: JSON.parse(input.value || '{}') }),
              });
            } catch (e) {
              alert(e.message);
            }
          },
        },
        'Run',
      );
      return el(
        'tr',
        {},
        el('td', {}, el('b', {}, job.name), el('br'), job.description),
        el('td', {}, job.enabled ? 'enabled' : 'disabled'),
        el('td', {}, job.canTrigger ? input : '', job.canTrigger ? trigger : ''),
      );
    }),
  );
}

async function loadRuns() {
  const status = document.getElementById('status-filter').value;
  const { runs } = await api('/api/runs?limit=50' + (status ? '&status=' + status : ''));
  document
    .getElementById('runs')
    .replaceChildren(
      ...runs.map((run) =>
        el(
          'tr',
          { onclick: () => showRun(run.id) },
          el('td', {}, run.job),
          el('td', {}, badge(run.status)),
          el(
            'td',
            {},
            run.progress && run.progress.percent !== null
              ? el('progress', { max: 100, value: run.progress.percent })
              : '',
          ),
          el('td', {}, new Date(run.createdAt).toLocaleTimeString()),
        ),
      ),
    );
}

async function stop(id, mode) {
  const text =
    mode === 'force'
      ? 'Stop immediately? The handler is aborted now; cleanups run.'
      : 'Stop gracefully? The current step finishes first.';
  if (!confirm(text)) return;
  try {
    await api('/api/runs/' + id + '/cancel', {
      method: 'POST',
      body: JSON.stringify({ mode }),
    });
  } catch (e) {
    alert(e.message);
  }
}

async function showRun(id) {
  selected = id;
  const [{ run }, { logs }] = await Promise.all([
    api('/api/runs/' + id),
    api('/api/runs/' + id + '/logs'),
  ]);
  const active = ['scheduled', 'pending', 'running', 'cancelling'].includes(run.status);
  const detail = document.getElementById('detail');
  detail.hidden = false;
  detail.replaceChildren(
    el('h2', {}, run.job + ' ', badge(run.status)),
    el(
      'div',
      {},
      'Run ' +
        run.id +
        ' · attempt ' +
        run.attempt +
        '/' +
        run.maxAttempts +
        ' · by ' +
        run.createdBy,
    ),
    run.progress
      ? el(
          'div',
          {},
          el('progress', { max: 100, value: run.progress.percent ?? 0 }),
          ' ',
          String(run.progress.percent ?? ''),
          '% ',
          run.progress.message || '',
        )
      : null,
    active
      ? el(
          'div',
          {},
          el('button', { onclick: () => stop(id, 'graceful') }, 'Stop gracefully'),
          ' ',
          el('button', { onclick: () => stop(id, 'force') }, 'Stop immediately'),
        )
      : null,
    run.cancel
      ? el(
          'p',
          {},
          'Cancel: ' +
            run.cancel.mode +
            ' by ' +
            run.cancel.requestedBy +
            ' at ' +
            run.cancel.requestedAt +
            (run.cancel.reason ? ' — ' + run.cancel.reason : ''),
        )
      : null,
    run.error ? el('p', {}, 'Error: ' + run.error.code + ' — ' + run.error.message) : null,
    run.items.length
      ? el(
          'table',
          {},
          ...run.items.map((i) =>
            el(
              'tr',
              {},
              el('td', {}, i.key),
              el('td', {}, badge(i.status)),
              el('td', {}, i.error ? i.error.message : ''),
            ),
          ),
        )
      : null,
    el(
      'pre',
      { id: 'logs' },
      logs
        .map(
          (l) =>
            l.time + ' ' + l.level + ' ' + l.message + (l.data ? ' ' + JSON.stringify(l.data) : ''),
        )
        .join('\n'),
    ),
  );
}

document.getElementById('status-filter').addEventListener('change', loadRuns);
document.getElementById('sign-out').addEventListener('click', async () => {
  await api('/api/session', { method: 'DELETE' });
  location.assign('/dashboard');
});
const events = new EventSource('/api/events');
let pending = null;
const refresh = (runId) => {
  clearTimeout(pending);
  pending = setTimeout(() => {
    loadRuns();
    if (selected && (!runId || runId === selected)) showRun(selected);
  }, 150);
};
// The names of the streamed events come from the server (one list, in src/api/sse.ts).
const streamed = document.querySelector('meta[name="jobdeck-events"]').content.split(',');
for (const name of streamed) {
  events.addEventListener(name, (e) => {
    const data = JSON.parse(e.data);
    refresh(data.run?.id ?? data.runId);
  });
}
// The server no longer holds what we missed (or restarted): reload everything.
events.addEventListener('reset', () => refresh(null));
loadJobs();
loadRuns();

// Metrics in the shape prisma-client-py's `get_metrics()` parses. The wasm
// engine has no metrics recorder, so the server keeps its own counters.
const BUCKETS = [0, 1, 5, 10, 50, 100, 500, 1000, 5000, 50000];

export class Metrics {
  constructor() {
    this.counters = new Map([
      ['prisma_client_queries_total', 0],
      ['transaction_start', 0],
      ['transaction_commit', 0],
      ['transaction_rollback', 0],
    ]);
    this.buckets = BUCKETS.map(() => 0);
    this.sum = 0;
  }

  count(name) {
    this.counters.set(name, (this.counters.get(name) ?? 0) + 1);
  }

  observe(ms) {
    this.count('prisma_client_queries_total');
    this.sum += ms;
    for (let i = 0; i < BUCKETS.length; i++) if (ms <= BUCKETS[i]) this.buckets[i] += 1;
  }

  json(labels) {
    const total = this.counters.get('prisma_client_queries_total');
    const counter = (key, value, description) => ({ key, labels: {}, value, description });
    return {
      counters: [
        counter('prisma_client_queries_total', total, 'Total number of Prisma Client queries executed'),
        ...['start', 'commit', 'rollback'].map((w) =>
          counter(`prisma_transaction_${w}_total`, this.counters.get(`transaction_${w}`), `Interactive transactions: ${w}`),
        ),
      ].map((c) => ({ ...c, labels: { ...labels } })),
      gauges: [],
      histograms: [
        {
          key: 'prisma_client_queries_duration_histogram_ms',
          labels: { ...labels },
          value: {
            buckets: BUCKETS.map((b, i) => [b, this.buckets[i]]),
            sum: this.sum,
            count: total,
          },
          description: 'Histogram of the duration of all executed Prisma Client queries in ms',
        },
      ],
    };
  }

  prometheus(labels) {
    const lbl = Object.entries(labels ?? {}).map(([k, v]) => `${k}="${String(v).replace(/"/g, '\\"')}"`);
    const fmt = (extra = []) => {
      const all = [...lbl, ...extra];
      return all.length ? `{${all.join(',')}}` : '';
    };
    const lines = [];
    for (const w of ['start', 'commit', 'rollback']) {
      lines.push(`# TYPE prisma_transaction_${w}_total counter`);
      lines.push(`prisma_transaction_${w}_total${fmt()} ${this.counters.get(`transaction_${w}`)}`);
    }
    const total = this.counters.get('prisma_client_queries_total');
    lines.push('# TYPE prisma_client_queries_total counter');
    lines.push(`prisma_client_queries_total${fmt()} ${total}`);
    lines.push('# TYPE prisma_client_queries_duration_histogram_ms histogram');
    BUCKETS.forEach((b, i) => {
      lines.push(`prisma_client_queries_duration_histogram_ms_bucket${fmt([`le="${b}"`])} ${this.buckets[i]}`);
    });
    lines.push(`prisma_client_queries_duration_histogram_ms_bucket${fmt(['le="+Inf"'])} ${total}`);
    lines.push(`prisma_client_queries_duration_histogram_ms_sum${fmt()} ${this.sum}`);
    lines.push(`prisma_client_queries_duration_histogram_ms_count${fmt()} ${total}`);
    return `${lines.join('\n')}\n`;
  }
}

// Fan-out/fan-in of no-op activities, flat or split into sub-orchestrations (npm run bench:host).
import * as df from 'durable-functions';

df.app.activity('Noop', { handler: async () => null });

df.app.orchestration('Flat', function* (context) {
  const { count } = context.df.getInput();
  const results = yield context.df.Task.all(Array.from({ length: count }, () => context.df.callActivity('Noop')));
  return results.length;
});

df.app.orchestration('Split', function* (context) {
  const { count, size } = context.df.getInput();
  const parts = Math.ceil(count / size);
  const counts = yield context.df.Task.all(
    Array.from({ length: parts }, (_, p) => context.df.callSubOrchestrator('Flat', { count: Math.min(size, count - p * size) })),
  );
  return counts.reduce((a, b) => a + b, 0);
});

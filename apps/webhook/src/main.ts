// Entry point of the admission webhook. Serving admission reviews arrives with issue 4; today the
// process validates its configuration and refuses to start on a bad value, naming the variable.
import { ConfigError, routingConfigFromEnv } from '@kaos/routing';

try {
  const routing = routingConfigFromEnv(process.env);
  console.log(JSON.stringify({ level: 'info', message: 'webhook configuration valid', routing }));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(JSON.stringify({ level: 'error', message: error.message, problems: error.problems }));
  process.exitCode = 1;
}

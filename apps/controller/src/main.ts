// Entry point of the routing controller. Reconciling HTTPRoutes arrives with issue 5; today the
// process validates its configuration and refuses to start on a bad value, naming the variable.
import { ConfigError, routingConfigFromEnv } from '@kaos/routing';

try {
  const routing = routingConfigFromEnv(process.env);
  console.log(JSON.stringify({ level: 'info', message: 'controller configuration valid', routing }));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(JSON.stringify({ level: 'error', message: error.message, problems: error.problems }));
  process.exitCode = 1;
}

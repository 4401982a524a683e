// The webhook's ops ports on express, the project's HTTP framework (ADR 0008): the same routes
// and answers as kube-runtime's plain dispatcher, which the controller uses without express.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { sendEndpointError, sendMethodNotAllowed, sendNotFound, type OpsDispatcher } from '@kaos/kube-runtime';

/** Serves OpsRoutes with express: exact, case-sensitive paths; GET and HEAD (express answers HEAD through the GET route), others 405; 404 elsewhere. */
export const expressOpsDispatcher: OpsDispatcher = (routes) => {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);
  // Exact paths, as the plain dispatcher matches them: /healthz/ and /HEALTHZ are not /healthz.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  for (const [path, endpoint] of routes.endpoints) app.get(path, (request: Request, response: Response) => endpoint(request, response));
  app.all([...routes.endpoints.keys()], (request: Request, response: Response) => sendMethodNotAllowed(request, response));
  app.use((request: Request, response: Response) => sendNotFound(routes, request, response));
  // Four parameters make this express's error handler: a throwing endpoint answers JSON, not express's HTML page.
  app.use((error: unknown, _request: Request, response: Response, _next: NextFunction) => sendEndpointError(response, error));
  return (request: IncomingMessage, response: ServerResponse) => app(request, response);
};

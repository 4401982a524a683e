// Sends the controller's writes with undici's Dispatcher.request on the KubeConfig's own connection
// pool, not through client-node's generated API: that goes through fetch (Request, Headers, web
// streams) and the ObjectSerializer, most of the controller's CPU per resource (ADR 0021's profile,
// ADR 0022). What is sent is built by libs/kube-runtime's pure api-request functions exactly as
// client-node builds it; credentials and the dispatcher come from the KubeConfig itself, so bearer
// tokens (files, exec plugins, auth providers), client certificates, impersonation and the shared
// pool of connections.ts apply as for every other call.
import { ApiException, HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { flatHeaders, isSuccess, requestBody, requestHeaders, requestTarget, successBody, type ApiRequest } from '@kaos/kube-runtime';
import { getGlobalDispatcher, type Dispatcher } from 'undici';

/** client-node's User-Agent (its package version; a unit test keeps it in step with the installed one). */
export const CLIENT_NODE_USER_AGENT = 'kubernetes-client-javascript/2.0.1';

/** What the caller wants of a successful answer: its JSON, or nothing (the body is read to its end but not decoded or parsed). */
export interface SendOptions {
  answer?: boolean;
}

/** Sends one API request; resolves its answer's JSON (undefined without a body, or with `answer: false`), rejects a non-2xx answer with client-node's ApiException. */
export type ApiSend = (request: ApiRequest, options?: SendOptions) => Promise<unknown>;

/** The part of an undici dispatcher the transport uses. */
type Requester = Pick<Dispatcher, 'request'>;

/** An ApiSend on `kubeConfig`'s current cluster and user; `fallback` is the dispatcher when the KubeConfig has none (no TLS settings: fetch's global one). */
export function createApiTransport(kubeConfig: KubeConfig, fallback: () => Requester = getGlobalDispatcher): ApiSend {
  return async (request, { answer = true } = {}) => {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    const target = requestTarget(cluster.server, request);
    const context = new RequestContext(`${target.origin}${target.path}`, HttpMethod[request.method]);
    // Token refresh (files, exec, auth providers), basic auth, impersonation and the TLS dispatcher, as for client-node's own calls.
    await kubeConfig.applySecurityAuthentication(context);
    const dispatcher: Requester = context.getDispatcher() ?? fallback();
    const response = await dispatcher.request({
      origin: target.origin,
      path: target.path,
      method: request.method,
      headers: requestHeaders(request, context.getHeaders(), CLIENT_NODE_USER_AGENT),
      body: requestBody(request),
    });
    // Read to the end in every case: an unread body holds its connection (or HTTP/2 stream). The
    // status patch, Event and delete answer with whole objects nobody reads: not decoded, not parsed.
    if (!answer && isSuccess(response.statusCode)) {
      await response.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      return undefined;
    }
    const text = await response.body.text();
    const headers = flatHeaders(response.headers);
    // The reconciler tells 404, 409, 422, 429 and 5xx apart by ApiException.code, as for client-node's calls.
    if (!isSuccess(response.statusCode)) throw new ApiException(response.statusCode, 'Unsuccessful HTTP Request', text, headers);
    return successBody(headers['content-type'], text);
  };
}

/** Compiled ASP.NET-style route template: `{name}`, `{name?}`, `{name:constraint}`, `{*catchall}`. */
export interface CompiledRoute {
  template: string;
  /** Route values from a decoded request path (see `decodeRequestPath`), as they are. */
  match(path: string): Record<string, string> | undefined;
  /** Literal segments first, like ASP.NET route precedence. */
  precedence: number;
}

const CONSTRAINTS: Record<string, string> = {
  int: '-?\\d+', long: '-?\\d+', bool: '(?:true|false)', guid: '[0-9a-fA-F-]{32,36}',
  alpha: '[A-Za-z]+', double: '-?\\d+(?:\\.\\d+)?', float: '-?\\d+(?:\\.\\d+)?', decimal: '-?\\d+(?:\\.\\d+)?',
};

export function compileRoute(template: string): CompiledRoute {
  const clean = template.replace(/^\/+|\/+$/g, '');
  const names: string[] = [];
  let pattern = '';
  let literals = 0;
  for (const segment of clean === '' ? [] : clean.split('/')) {
    const param = /^\{(\*?)([A-Za-z_][\w]*)(?::([^}?=]+))?(\?)?(?:=[^}]*)?\}$/.exec(segment);
    if (!param) {
      if (segment.includes('{')) throw new Error(`route "${template}": unsupported segment "${segment}"`);
      pattern += `/${escapeRegExp(segment)}`;
      literals++;
      continue;
    }
    const [, star, name, constraint, optional] = param;
    names.push(name!);
    const body = star ? '.*' : constraint ? (CONSTRAINTS[constraint.split('(')[0]!.toLowerCase()] ?? '[^/]+') : '[^/]+';
    pattern += star || optional ? `(?:/(${body}))?` : `/(${body})`;
  }
  const regex = new RegExp(`^${pattern}/?$`, 'i');
  return {
    template: clean,
    precedence: literals * 100 - names.length,
    match(path) {
      const found = regex.exec(path.replace(/\/+$/, '') || '');
      if (!found) return undefined;
      const params: Record<string, string> = {};
      names.forEach((name, index) => {
        const value = found[index + 1];
        if (value !== undefined) params[name] = value;
      });
      return params;
    },
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

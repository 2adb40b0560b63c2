-- query: 'interactionDate.startDateTime.gte=2026-01-01T00:00:00Z&interactionDate.startDateTime.lt=2026-02-01T00:00:00Z'

-- page
SELECT doc, version FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND (((kind = 'd' AND num >= ?) OR (kind <> 'd' AND v >= ?)))) AND seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND (((kind = 'd' AND num < ?) OR (kind <> 'd' AND v < ?)))) ORDER BY created ASC NULLS LAST, id LIMIT ? OFFSET ?

-- page params
1. 'interactionDate.startDateTime'
2. 1767225600.0
3. '2026-01-01T00:00:00Z'
4. 'interactionDate.startDateTime'
5. 1769904000.0
6. '2026-02-01T00:00:00Z'
7. -1
8. 0

-- count
SELECT count(*) FROM interaction WHERE seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND (((kind = 'd' AND num >= ?) OR (kind <> 'd' AND v >= ?)))) AND seq IN (SELECT seq FROM leaf WHERE pid = (SELECT pid FROM path WHERE path = ?) AND (((kind = 'd' AND num < ?) OR (kind <> 'd' AND v < ?))))

-- count params
1. 'interactionDate.startDateTime'
2. 1767225600.0
3. '2026-01-01T00:00:00Z'
4. 'interactionDate.startDateTime'
5. 1769904000.0
6. '2026-02-01T00:00:00Z'

export type { GeoScaleName, GeoScores, LatLonDegrees } from './distance';
export { EARTH_RADIUS_KM, GEO_SCALES, geoScores, haversineKm } from './distance';
